"""Propeller's side of the agent protocol, as tests against the real server (flyteidl stubs).

Written from flyteplugins' agent plugin (``go/tasks/plugins/webapi/agent``, and its successor
``connector``): it polls ``ListAgents`` and routes task types by ``supported_task_categories``
(older propellers by ``supported_task_types``); sync agents get one ``ExecuteTaskSync`` stream
(send header, send inputs, ``Recv`` exactly one response whose header holds the resource, then
``CloseSend``); async agents get ``CreateTask``, then ``GetTask`` from whichever propeller
replica handles the workflow, on any agent replica behind the Service, until a terminal phase
(and again after it, e.g. on a propeller restart before the state is persisted);
``DeleteTask`` only on abort, possibly retried. Its gRPC client keeps grpc-go's default 4 MiB
receive limit, so a response larger than that is lost to propeller.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flytekit_side as fk
import grpc
import propeller
import pytest
from fake_plugins.sized import ASYNC_TASK_TYPE, SYNC_TASK_TYPE
from flyteidl.admin import agent_pb2
from flyteidl.service import agent_pb2_grpc

from agenthost import Phase, is_terminal_phase
from agenthost.testing import RunningServer, make_inputs, make_template

PROPELLER_RECEIVE_LIMIT = 4 * 1024 * 1024
"""grpc-go's default max receive message size; propeller's agent client does not raise it."""


@pytest.fixture(scope="module")
def propeller_channel(server: RunningServer) -> Iterator[grpc.Channel]:
    """A channel with propeller's receive limit."""
    channel = grpc.insecure_channel(
        server.address, options=[("grpc.max_receive_message_length", PROPELLER_RECEIVE_LIMIT)]
    )
    yield channel
    channel.close()


def _resource_bytes(resource: agent_pb2.Resource) -> bytes:
    return bytes(resource.SerializeToString(deterministic=True))


# -- ListAgents -----------------------------------------------------------------------------


def test_list_agents_answers_quickly(server: RunningServer) -> None:
    started = time.perf_counter()
    server.metadata_stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=2)
    assert time.perf_counter() - started < 1.0


def test_list_agents_fills_the_deprecated_and_the_new_task_type_fields(
    server: RunningServer,
) -> None:
    agents = server.metadata_stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=10).agents
    assert agents
    for agent in agents:
        assert agent.name
        categories = [c.name for c in agent.supported_task_categories]
        assert categories, agent.name
        assert list(agent.supported_task_types) == categories, agent.name
    by_type = {c.name: a for a in agents for c in a.supported_task_categories}
    expected_sync = {
        "bigquery_query_job_task": False,
        "chatgpt": True,
        "openai-batch": False,
        "sensor": False,
        SYNC_TASK_TYPE: True,
        ASYNC_TASK_TYPE: False,
    }
    for task_type, is_sync in expected_sync.items():
        assert by_type[task_type].is_sync is is_sync, task_type
        assert (
            server.metadata_stub.GetAgent(
                agent_pb2.GetAgentRequest(name=by_type[task_type].name), timeout=10
            ).agent
            == by_type[task_type]
        )


# -- ExecuteTaskSync ------------------------------------------------------------------------


def _chat() -> tuple[Any, Any]:
    task = fk.chatgpt_task()
    return fk.serialize(task), fk.inputs(task, {"message": "contract"})


def test_execute_task_sync_answers_exactly_one_header_with_a_terminal_phase(
    server: RunningServer,
) -> None:
    template, inputs = _chat()
    responses = propeller.execute_sync(server.sync_stub, template, inputs)
    assert len(responses) == 1
    assert responses[0].WhichOneof("res") == "header"
    assert is_terminal_phase(responses[0].header.resource.phase)
    assert responses[0].header.resource.phase == Phase.SUCCEEDED


def test_execute_task_sync_answers_before_propeller_closes_its_side(
    server: RunningServer,
) -> None:
    """Propeller reads the response first and only then calls CloseSend."""
    template, inputs = _chat()
    received = threading.Event()
    sent: queue.Queue[str] = queue.Queue()

    def requests() -> Iterator[agent_pb2.ExecuteTaskSyncRequest]:
        for request in propeller.sync_requests(template, inputs):
            yield request
            sent.put(request.WhichOneof("part"))
        received.wait(30)  # keep the stream open until the response arrived

    call = server.sync_stub.ExecuteTaskSync(requests(), timeout=30)
    try:
        first = next(call)
    finally:
        received.set()
    assert [sent.get_nowait(), sent.get_nowait()] == ["header", "inputs"]
    assert first.header.resource.phase == Phase.SUCCEEDED
    assert list(call) == []


def test_execute_task_sync_on_an_async_agent_is_refused(server: RunningServer) -> None:
    task = fk.bigquery_plain_task()
    with pytest.raises(grpc.RpcError) as raised:
        propeller.execute_sync(server.sync_stub, fk.serialize(task), fk.inputs(task, {}))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION


# -- GetTask on any replica, repeatedly -----------------------------------------------------


def test_get_task_on_another_replica_and_after_the_terminal_phase(
    server: RunningServer, replica: RunningServer
) -> None:
    assert server.process.pid != replica.process.pid
    task = fk.bigquery_plain_task()
    template = fk.serialize(task)
    category = propeller.category_of(template)
    meta = propeller.create(server.async_stub, template, fk.inputs(task, {}))

    final, _ = propeller.poll(replica.async_stub, category, meta)

    assert final.phase == Phase.SUCCEEDED, final.message
    answers = {
        _resource_bytes(propeller.get(stub, category, meta))
        for stub in (server.async_stub, replica.async_stub, server.async_stub)
    }
    assert answers == {_resource_bytes(final)}


def test_sync_result_from_create_task_is_served_by_any_replica(
    server: RunningServer, replica: RunningServer
) -> None:
    template, inputs = _chat()
    category = propeller.category_of(template)
    meta = propeller.create(server.async_stub, template, inputs)
    answers = [propeller.get(stub, category, meta) for stub in (replica.async_stub,) * 2]
    assert answers[0].phase == Phase.SUCCEEDED
    assert answers[0] == answers[1]
    propeller.delete(replica.async_stub, category, meta)


def test_sensor_state_is_shared_by_replicas(
    server: RunningServer, replica: RunningServer, tmp_path: Path
) -> None:
    task = fk.file_sensor()
    template = fk.serialize(task)
    category = propeller.category_of(template)
    target = tmp_path / "ready"
    meta = propeller.create(replica.async_stub, template, fk.inputs(task, {"path": str(target)}))
    assert propeller.get(server.async_stub, category, meta).phase == Phase.RUNNING
    target.touch()
    first = propeller.get(replica.async_stub, category, meta)
    assert first.phase == Phase.SUCCEEDED
    assert propeller.get(server.async_stub, category, meta) == first


# -- DeleteTask on abort --------------------------------------------------------------------


def test_abort_of_a_running_task_deletes_it_twice_on_two_replicas(
    server: RunningServer, replica: RunningServer, tmp_path: Path
) -> None:
    task = fk.file_sensor()
    template = fk.serialize(task)
    category = propeller.category_of(template)
    meta = propeller.create(
        server.async_stub, template, fk.inputs(task, {"path": str(tmp_path / "never")})
    )
    assert propeller.get(server.async_stub, category, meta).phase == Phase.RUNNING
    propeller.delete(server.async_stub, category, meta)
    propeller.delete(replica.async_stub, category, meta)


def test_old_propellers_send_only_the_task_type_string(server: RunningServer) -> None:
    task = fk.bigquery_plain_task()
    template = fk.serialize(task)
    meta = propeller.create(server.async_stub, template, fk.inputs(task, {}))
    request = agent_pb2.GetTaskRequest(task_type=template.type, resource_meta=meta)
    deadline = time.monotonic() + 30
    while True:
        resource = server.async_stub.GetTask(request, timeout=30).resource
        if is_terminal_phase(resource.phase) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert resource.phase == Phase.SUCCEEDED
    delete = agent_pb2.DeleteTaskRequest(task_type=template.type, resource_meta=meta)
    server.async_stub.DeleteTask(delete, timeout=30)


# -- outputs and propeller's 4 MiB receive limit --------------------------------------------

_UNDER_LIMIT = 3 * 1024 * 1024
_OVER_LIMIT = 5 * 1024 * 1024


def _sized(task_type: str, size: int) -> tuple[Any, Any]:
    template = make_template(task_type, inputs={"size": int}, outputs={"text": str})
    return template, make_inputs(template, {"size": size})


def _execute(channel: grpc.Channel, template: Any, inputs: Any) -> agent_pb2.Resource:
    stub = agent_pb2_grpc.SyncAgentServiceStub(channel)
    [response] = list(stub.ExecuteTaskSync(propeller.sync_requests(template, inputs), timeout=60))
    return response.header.resource


def _create_and_get(channel: grpc.Channel, template: Any, inputs: Any) -> agent_pb2.Resource:
    stub = agent_pb2_grpc.AsyncAgentServiceStub(channel)
    meta = propeller.create(stub, template, inputs)
    return propeller.get(stub, propeller.category_of(template), meta)


def test_sync_outputs_under_the_limit_reach_propeller(propeller_channel: grpc.Channel) -> None:
    resource = _execute(propeller_channel, *_sized(SYNC_TASK_TYPE, _UNDER_LIMIT))
    assert resource.phase == Phase.SUCCEEDED
    assert len(resource.outputs.literals["text"].scalar.primitive.string_value) == _UNDER_LIMIT


def test_async_outputs_under_the_limit_reach_propeller(propeller_channel: grpc.Channel) -> None:
    resource = _create_and_get(propeller_channel, *_sized(ASYNC_TASK_TYPE, _UNDER_LIMIT))
    assert resource.phase == Phase.SUCCEEDED
    assert len(resource.outputs.literals["text"].scalar.primitive.string_value) == _UNDER_LIMIT


def _assert_clear_too_large_failure(call: Any) -> None:
    try:
        resource = call()
    except grpc.RpcError as exc:
        pytest.fail(f"propeller would get {exc.code().name}: {exc.details()}")
    assert resource.phase == Phase.FAILED
    assert "4194304" in resource.message or "4 MiB" in resource.message
    assert not resource.HasField("outputs")


def test_sync_outputs_over_the_limit_fail_the_task_clearly(
    propeller_channel: grpc.Channel,
) -> None:
    template, inputs = _sized(SYNC_TASK_TYPE, _OVER_LIMIT)
    _assert_clear_too_large_failure(lambda: _execute(propeller_channel, template, inputs))


def test_async_outputs_over_the_limit_fail_the_task_clearly(
    propeller_channel: grpc.Channel,
) -> None:
    template, inputs = _sized(ASYNC_TASK_TYPE, _OVER_LIMIT)
    _assert_clear_too_large_failure(lambda: _create_and_get(propeller_channel, template, inputs))


def test_oversized_outputs_fail_even_for_clients_that_accept_large_messages(
    server: RunningServer,
) -> None:
    """The cap is the host's own: a client with a larger receive limit gets the same FAILED
    resource, never the outputs propeller could not receive."""
    channel = grpc.insecure_channel(
        server.address, options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)]
    )
    try:
        resource = _execute(channel, *_sized(SYNC_TASK_TYPE, _OVER_LIMIT))
    finally:
        channel.close()
    assert resource.phase == Phase.FAILED
    assert resource.agent_error.code == "OutputsTooLarge"
    assert resource.ByteSize() < PROPELLER_RECEIVE_LIMIT
