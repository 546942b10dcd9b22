"""Every RPC of the agent services against a real ``agenthost serve`` subprocess."""

from __future__ import annotations

import concurrent.futures
import json
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest
from flyteidl.admin import agent_pb2
from flyteidl.core import execution_pb2
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from server_test_kit import test_server

import agenthost
from agenthost.literals import literal_map_to_python
from agenthost.testing import RunningServer, make_inputs, make_template, wait_for

SECRET = "hunter2-secret-value"


def create(server: RunningServer, template, inputs=None, **kwargs):  # type: ignore[no-untyped-def]
    request = agent_pb2.CreateTaskRequest(template=template, output_prefix="s3://bucket/out")
    if inputs is not None:
        request.inputs.CopyFrom(inputs)
    return server.async_stub.CreateTask(request, timeout=kwargs.pop("timeout", 20), **kwargs)


def category(name: str, version: int = 0) -> agent_pb2.TaskCategory:
    return agent_pb2.TaskCategory(name=name, version=version)


def logs_of(server: RunningServer, protocol: str, task_type: str, meta: bytes) -> Any:
    """The text of each body page of GetTaskLogs over ``protocol``: v1's ``results``, or v2's
    ``results`` and structured ``lines``."""
    if protocol == "v1":
        request = agent_pb2.GetTaskLogsRequest(
            task_category=category(task_type), resource_meta=meta
        )
        for page in server.async_stub.GetTaskLogs(request, timeout=20):
            if page.HasField("body"):
                yield [*page.body.results, *(line.message for line in page.body.structured_lines)]
        return
    from flyteidl2.connector import connector_pb2 as c2
    from flyteidl2.connector import service_pb2_grpc as svc2

    stub = svc2.AsyncConnectorServiceStub(server.channel)
    request2 = c2.GetTaskLogsRequest(
        task_category=c2.TaskCategory(name=task_type), resource_meta=meta
    )
    for page in stub.GetTaskLogs(request2, timeout=20):
        if page.HasField("body"):
            yield [*page.body.results, *(line.message for line in page.body.lines)]


def raw_call(server: RunningServer, method: str, payload: bytes) -> grpc.RpcError:
    call = server.channel.unary_unary(method)  # no serializers: raw bytes
    with pytest.raises(grpc.RpcError) as info:
        call(payload, timeout=10)
    return info.value


def assert_clean(details: str) -> None:
    assert SECRET not in details
    assert str(Path(agenthost.__file__).parent) not in details
    assert "Traceback" not in details
    assert "\n" not in details


# -- async agents --------------------------------------------------------------------------


def test_async_agent_create_get_delete(server: RunningServer, markers: Path) -> None:
    template = make_template("fast_async", inputs={"x": int}, outputs={"y": int})
    created = create(server, template, make_inputs(template, {"x": 21}))
    assert json.loads(created.resource_meta) == {"job_id": "job-s3://bucket/out", "x": 21}

    response = server.async_stub.GetTask(
        agent_pb2.GetTaskRequest(
            task_category=category("fast_async"), resource_meta=created.resource_meta
        ),
        timeout=10,
    )
    resource = response.resource
    assert resource.phase == execution_pb2.TaskExecution.SUCCEEDED
    assert literal_map_to_python(resource.outputs) == {"y": 42}
    assert resource.message == "done job-s3://bucket/out"
    assert json_format.MessageToDict(resource.custom_info) == {"job_id": "job-s3://bucket/out"}
    assert [link.uri for link in resource.log_links] == ["https://example.com/job"]

    # The deprecated task_type string resolves too.
    server.async_stub.DeleteTask(
        agent_pb2.DeleteTaskRequest(task_type="fast_async", resource_meta=created.resource_meta),
        timeout=10,
    )
    assert (markers / "deleted-job-s3:__bucket_out").exists()


def test_async_agent_metrics_and_streamed_logs(server: RunningServer) -> None:
    meta = json.dumps({"job_id": "j1", "x": 1}).encode()
    metrics = server.async_stub.GetTaskMetrics(
        agent_pb2.GetTaskMetricsRequest(task_category=category("fast_async"), resource_meta=meta),
        timeout=10,
    )
    assert isinstance(metrics, agent_pb2.GetTaskMetricsResponse)
    items = list(
        server.async_stub.GetTaskLogs(
            agent_pb2.GetTaskLogsRequest(task_category=category("fast_async"), resource_meta=meta),
            timeout=10,
        )
    )
    assert [list(i.body.results) for i in items] == [["line 0"], ["line 1"], ["line 2"]]


def test_metrics_and_logs_unimplemented(server: RunningServer) -> None:
    meta = json.dumps({"job_id": "j1"}).encode()
    with pytest.raises(grpc.RpcError) as info:
        server.async_stub.GetTaskMetrics(
            agent_pb2.GetTaskMetricsRequest(task_type="slow_async", resource_meta=meta), timeout=10
        )
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "metrics" in info.value.details()


# -- sync agents ---------------------------------------------------------------------------


def sync_requests(template, inputs):  # type: ignore[no-untyped-def]
    yield agent_pb2.ExecuteTaskSyncRequest(
        header=agent_pb2.CreateRequestHeader(template=template, output_prefix="s3://x")
    )
    yield agent_pb2.ExecuteTaskSyncRequest(inputs=inputs)


def test_execute_task_sync(server: RunningServer) -> None:
    template = make_template("echo_sync", inputs={"prompt": str}, outputs={"out": str})
    responses = list(
        server.sync_stub.ExecuteTaskSync(
            sync_requests(template, make_inputs(template, {"prompt": "hi"})), timeout=10
        )
    )
    assert len(responses) == 1
    resource = responses[0].header.resource
    assert resource.phase == execution_pb2.TaskExecution.SUCCEEDED
    assert literal_map_to_python(resource.outputs, template.interface.outputs) == {"out": "HI"}


def test_execute_task_sync_answers_once_and_ignores_later_requests(
    server: RunningServer,
) -> None:
    template = make_template("echo_sync", inputs={"prompt": str}, outputs={"out": str})
    inputs = make_inputs(template, {"prompt": "once"})

    def requests():  # type: ignore[no-untyped-def]
        yield from sync_requests(template, inputs)
        yield agent_pb2.ExecuteTaskSyncRequest(inputs=make_inputs(template, {"prompt": "twice"}))

    call = server.sync_stub.ExecuteTaskSync(requests(), timeout=10)
    responses = list(call)
    assert call.code() == grpc.StatusCode.OK
    assert [literal_map_to_python(r.header.resource.outputs) for r in responses] == [
        {"out": "ONCE"}
    ]


def test_execute_task_sync_by_version(server: RunningServer) -> None:
    template = make_template("echo_sync", outputs={"out": str}, version=2)
    (response,) = server.sync_stub.ExecuteTaskSync(
        sync_requests(template, make_inputs(template, {})), timeout=10
    )
    assert literal_map_to_python(response.header.resource.outputs) == {"out": "v2"}


def test_deployment_secret_a_sync_agent_echoes_is_masked_in_its_replies(
    server: RunningServer,
) -> None:
    """In custom info and log links: of ExecuteTaskSync, and through CreateTask of the
    resource_meta holding the result and of GetTask."""
    template = make_template("conn_sync", custom={"leak": "reply", "secret": "test_token"})
    (response,) = server.sync_stub.ExecuteTaskSync(sync_requests(template, None), timeout=10)
    created = create(server, template)
    assert SECRET.encode() not in created.resource_meta
    got = server.async_stub.GetTask(
        agent_pb2.GetTaskRequest(
            task_category=category("conn_sync"), resource_meta=created.resource_meta
        ),
        timeout=10,
    )
    for resource in (response.header.resource, got.resource):
        assert SECRET.encode() not in resource.SerializeToString()
        assert resource.phase == execution_pb2.TaskExecution.SUCCEEDED
        assert json_format.MessageToDict(resource.custom_info) == {"request": {"key": "***"}}
        assert [link.uri for link in resource.log_links] == ["https://api.example.com/?key=***"]


def test_sync_agent_through_create_task(server: RunningServer) -> None:
    template = make_template("echo_sync", inputs={"prompt": str}, outputs={"out": str})
    created = create(server, template, make_inputs(template, {"prompt": "abc"}))
    response = server.async_stub.GetTask(
        agent_pb2.GetTaskRequest(
            task_category=category("echo_sync"), resource_meta=created.resource_meta
        ),
        timeout=10,
    )
    assert response.resource.phase == execution_pb2.TaskExecution.SUCCEEDED
    assert literal_map_to_python(response.resource.outputs) == {"out": "ABC"}
    server.async_stub.DeleteTask(
        agent_pb2.DeleteTaskRequest(
            task_category=category("echo_sync"), resource_meta=created.resource_meta
        ),
        timeout=10,
    )


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (["inputs"], "first request must carry header"),
        (["header", "header"], "second request must carry inputs"),
        (["header"], "ended before its second request"),
        ([], "ended before its first request"),
    ],
)
def test_execute_task_sync_stream_shape(server: RunningServer, parts, expected) -> None:  # type: ignore[no-untyped-def]
    template = make_template("echo_sync", outputs={"out": str})

    def requests():  # type: ignore[no-untyped-def]
        for part in parts:
            if part == "header":
                yield agent_pb2.ExecuteTaskSyncRequest(
                    header=agent_pb2.CreateRequestHeader(template=template)
                )
            else:
                yield agent_pb2.ExecuteTaskSyncRequest(inputs=make_inputs(template, {}))

    with pytest.raises(grpc.RpcError) as info:
        list(server.sync_stub.ExecuteTaskSync(requests(), timeout=10))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert expected in info.value.details()


def test_execute_task_sync_on_async_agent(server: RunningServer) -> None:
    template = make_template("fast_async", inputs={"x": int}, outputs={"y": int})
    with pytest.raises(grpc.RpcError) as info:
        list(
            server.sync_stub.ExecuteTaskSync(
                sync_requests(template, make_inputs(template, {"x": 1})), timeout=10
            )
        )
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "asynchronous" in info.value.details()


# -- sensors -------------------------------------------------------------------------------


def test_sensor_through_alias(server: RunningServer, tmp_path: Path) -> None:
    target = tmp_path / "appears"
    template = make_template(
        "sensor",
        inputs={"path": str},
        custom={"sensor_module": "tests.sensors", "sensor_name": "PathSensor"},
    )
    created = create(server, template, make_inputs(template, {"path": str(target)}))
    get = agent_pb2.GetTaskRequest(
        task_category=category("sensor"), resource_meta=created.resource_meta
    )
    first = server.async_stub.GetTask(get, timeout=10).resource
    assert first.phase == execution_pb2.TaskExecution.RUNNING
    target.write_text("here")
    second = server.async_stub.GetTask(get, timeout=10).resource
    assert second.phase == execution_pb2.TaskExecution.SUCCEEDED
    server.async_stub.DeleteTask(
        agent_pb2.DeleteTaskRequest(
            task_category=category("sensor"), resource_meta=created.resource_meta
        ),
        timeout=10,
    )


# -- metadata ------------------------------------------------------------------------------


def test_list_and_get_agents(server: RunningServer) -> None:
    agents = server.metadata_stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=10).agents
    by_name = {a.name: a for a in agents}
    assert {"FastAgent", "EchoSyncAgent", "EchoSyncV2", "PathSensor", "SensorRouter"} <= set(
        by_name
    )
    v2 = by_name["EchoSyncV2"]
    assert v2.is_sync
    assert list(v2.supported_task_types) == ["echo_sync"]
    assert [(c.name, c.version) for c in v2.supported_task_categories] == [("echo_sync", 2)]
    assert not by_name["FastAgent"].is_sync
    one = server.metadata_stub.GetAgent(agent_pb2.GetAgentRequest(name="FastAgent"), timeout=10)
    assert one.agent.supported_task_categories[0].name == "fast_async"
    with pytest.raises(grpc.RpcError) as info:
        server.metadata_stub.GetAgent(agent_pb2.GetAgentRequest(name="Nope"), timeout=10)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


# -- errors --------------------------------------------------------------------------------


def test_unknown_task_type_is_not_found(server: RunningServer) -> None:
    with pytest.raises(grpc.RpcError) as info:
        create(server, make_template("no_such_type"))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert "no_such_type" in info.value.details()
    with pytest.raises(grpc.RpcError) as info:
        server.async_stub.GetTask(
            agent_pb2.GetTaskRequest(task_category=category("echo_sync", 7), resource_meta=b"{}"),
            timeout=10,
        )
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert "served versions: 0, 2" in info.value.details()


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        (b"\x80not json", "not valid JSON"),
        (b'{"job_id": 5}', "job_id"),
        (b"x" * (70 * 1024), "bytes, more than"),
    ],
)
def test_bad_resource_meta_is_invalid_argument(server: RunningServer, meta, expected) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as info:
        server.async_stub.GetTask(
            agent_pb2.GetTaskRequest(task_category=category("fast_async"), resource_meta=meta),
            timeout=10,
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert expected in info.value.details()


def test_bad_sync_resource_meta_is_invalid_argument(server: RunningServer) -> None:
    with pytest.raises(grpc.RpcError) as info:
        server.async_stub.GetTask(
            agent_pb2.GetTaskRequest(task_category=category("echo_sync"), resource_meta=b"{}"),
            timeout=10,
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "sync agent result" in info.value.details()


def test_missing_template_is_invalid_argument(server: RunningServer) -> None:
    with pytest.raises(grpc.RpcError) as info:
        server.async_stub.CreateTask(agent_pb2.CreateTaskRequest(), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "no template" in info.value.details()


def test_inputs_not_matching_interface(server: RunningServer) -> None:
    template = make_template("fast_async", inputs={"x": int}, outputs={"y": int})
    wrong_names = make_inputs(make_template("t", inputs={"z": int}), {"z": 1})
    with pytest.raises(grpc.RpcError) as info:
        create(server, template, wrong_names)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'z'" in info.value.details()
    wrong_type = make_inputs(make_template("t", inputs={"x": str}), {"x": "seven"})
    with pytest.raises(grpc.RpcError) as info:
        create(server, template, wrong_type)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "x" in info.value.details()


def test_undecodable_request_bytes_are_invalid_argument(server: RunningServer) -> None:
    error = raw_call(server, "/flyteidl.service.AsyncAgentService/CreateTask", b"\xff\xff\xff")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "flyteidl.admin.CreateTaskRequest" in error.details()


def test_agent_exception_is_internal_and_scrubbed(server: RunningServer) -> None:
    with pytest.raises(grpc.RpcError) as info:
        create(server, make_template("failing"))
    error = info.value
    assert error.code() == grpc.StatusCode.INTERNAL
    details = error.details()
    assert details.startswith("agent FailingAgent failed to create: ValueError: boom at ")
    assert "correlation id: " in details
    assert "second line" not in details
    assert_clean(details)
    correlation = details.rsplit("correlation id: ", 1)[1].rstrip(")")
    wait_for(lambda: correlation in server.logs())
    logs = server.logs()
    assert "Traceback" in logs  # the traceback goes to the server log only


@pytest.mark.parametrize(
    "secret",
    [
        "first-line-of-the-secret\nsecond-line-of-the-secret",
        '{"private_key_id": "' + "k3y1d" * 80 + '"}',  # one line, longer than the summary
    ],
)
def test_a_secret_cut_by_the_summary_is_scrubbed_whole(markers: Path, secret: str) -> None:
    """An agent exception is summed up as its first line, at most 300 characters: a secret
    its message holds is scrubbed before that cut, which would leave a part no scrubber
    recognises, in the details and in the log line that repeats them."""
    with test_server(markers, env={"_FSEC_TEST_TOKEN": secret}) as private:
        with pytest.raises(grpc.RpcError) as info:
            create(private, make_template("failing"))
        details = info.value.details()
        assert "token=*** (correlation id: " in details
        assert "first-line" not in details and "k3y1d" not in details
        correlation = details.rsplit("correlation id: ", 1)[1].rstrip(")")
        wait_for(lambda: correlation in private.logs())
        logs = private.logs()
    assert "first-line" not in logs and "k3y1d" not in logs


@pytest.mark.parametrize(
    "secret",
    [
        "first-line-of-the-secret\nsecond-line-of-the-secret",
        '{"private_key_id": "' + "k3y1d" * 80 + '"}',  # one line, longer than the summary
    ],
)
def test_a_secret_in_a_sensors_failure_is_masked_before_the_summary_cuts_it(
    markers: Path, secret: str
) -> None:
    """A sensor whose poke raises is a FAILED resource summing the exception up in one line:
    the secret is masked before that cut, since the server's scrubbing of ``message`` cannot
    recognise the part of a secret a cut leaves."""
    with test_server(
        markers, "--modules", "fake_plugins.faulty", env={"_FSEC_TEST_TOKEN": secret}
    ) as private:
        meta = create(private, make_template("fault_raise_sensor")).resource_meta
        request = agent_pb2.GetTaskRequest(
            task_category=category("fault_raise_sensor"), resource_meta=meta
        )
        resource = private.async_stub.GetTask(request, timeout=20).resource
    assert resource.phase == execution_pb2.TaskExecution.FAILED
    assert resource.message == "sensor RaisingSensor failed: ValueError: probe refused: token=***"


@pytest.mark.parametrize("protocol", ["v1", "v2"])
def test_log_pages_mask_the_secrets_a_job_prints(markers: Path, protocol: str) -> None:
    """A log page is a reply: a line in which a job printed a credential the host knows (here a
    multi-line one) reaches the client with it masked, in ``results`` and in structured lines."""
    secret = "first-line-of-the-secret\nsecond-line-of-the-secret"
    with test_server(
        markers, "--modules", "fake_plugins.faulty", env={"_FSEC_TEST_TOKEN": secret}
    ) as private:
        meta = create(private, make_template("fault_leaky_logs")).resource_meta
        pages = list(logs_of(private, protocol, "fault_leaky_logs", meta))
    lines = [text for page in pages for text in page]
    assert lines == ["connecting with token=***"] * 2


@pytest.mark.parametrize(
    ("fault", "code", "start"),
    [
        ("down", grpc.StatusCode.UNAVAILABLE, "the job service did not answer in time (token=***)"),
        ("misconfigured", grpc.StatusCode.FAILED_PRECONDITION, "no credentials for the job"),
        ("no_secret", grpc.StatusCode.FAILED_PRECONDITION, "secret 'job_service_token' not found"),
    ],
)
def test_backend_errors_keep_their_meaning_and_message(
    server: RunningServer, fault: str, code: grpc.StatusCode, start: str
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        create(server, make_template("backend_fault", custom={"fault": fault}))
    error = info.value
    assert error.code() == code
    assert error.details().startswith(start)
    assert "correlation id" not in error.details()
    assert_clean(error.details())
    wanted = (code.name, "task_type=backend_fault")

    def logged() -> str:
        return next((x for x in server.logs().splitlines() if all(w in x for w in wanted)), "")

    line = wait_for(logged)
    assert "WARNING" in line


def test_failed_resource_message_is_scrubbed(server: RunningServer) -> None:
    resource = server.async_stub.GetTask(
        agent_pb2.GetTaskRequest(
            task_category=category("failing"), resource_meta=b'{"job_id": "j"}'
        ),
        timeout=10,
    ).resource
    assert resource.phase == execution_pb2.TaskExecution.FAILED
    assert resource.message.startswith("job failed, token ***")
    assert_clean(resource.message)


def test_server_keeps_serving_after_errors(server: RunningServer) -> None:
    before = server.metadata_stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=10)
    for _ in range(3):
        with pytest.raises(grpc.RpcError) as failed:
            create(server, make_template("failing"))
        assert failed.value.code() == grpc.StatusCode.INTERNAL
        garbled = raw_call(server, "/flyteidl.service.AsyncAgentService/GetTask", b"\x0a\xff")
        assert garbled.code() == grpc.StatusCode.INVALID_ARGUMENT
    after = server.metadata_stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=10)
    assert after == before
    assert "FailingAgent" in {agent.name for agent in after.agents}
    fast = make_template("fast_async", inputs={"x": int}, outputs={"y": int})
    meta = create(server, fast, make_inputs(fast, {"x": 4})).resource_meta
    got = server.async_stub.GetTask(
        agent_pb2.GetTaskRequest(task_category=category("fast_async"), resource_meta=meta),
        timeout=10,
    )
    assert got.resource.phase == execution_pb2.TaskExecution.SUCCEEDED


# -- cancellation and blocking -------------------------------------------------------------


def test_client_deadline_cancels_async_agent(server: RunningServer, markers: Path) -> None:
    template = make_template("slow_async", custom={"seconds": 60, "tag": "deadline"})
    with pytest.raises(grpc.RpcError) as info:
        create(server, template, timeout=1.0)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert (markers / "started-deadline").exists()
    wait_for(lambda: (markers / "cancelled-deadline").exists(), timeout=10)
    assert not (markers / "finished-deadline").exists()


def test_blocking_agent_does_not_stall_other_calls(
    server: RunningServer, markers: Path, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    blocked = make_template("blocking", custom={"release": str(release)})
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(create, server, blocked)
        wait_for(lambda: (markers / "blocking-started").exists(), timeout=10)
        fast = make_template("fast_async", inputs={"x": int}, outputs={"y": int})
        for _ in range(5):
            assert create(server, fast, make_inputs(fast, {"x": 2}), timeout=5).resource_meta
        assert not pending.done()
        release.write_text("go")
        assert json.loads(pending.result(timeout=10).resource_meta)["job_id"] == "blocked"


# -- health, reflection and metrics --------------------------------------------------------


def test_health_reports_every_service(server: RunningServer) -> None:
    stub = health_pb2_grpc.HealthStub(server.channel)
    for name in (
        "",
        "flyteidl.service.AsyncAgentService",
        "flyteidl.service.SyncAgentService",
        "flyteidl.service.AgentMetadataService",
    ):
        response = stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
        assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_services(server: RunningServer) -> None:
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    stub = reflection_pb2_grpc.ServerReflectionStub(server.channel)
    (response,) = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
    )
    names = {s.name for s in response.list_services_response.service}
    assert "flyteidl.service.AsyncAgentService" in names
    assert "grpc.health.v1.Health" in names


def _sample(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_counters_move(server: RunningServer, metrics_port: int) -> None:
    def scrape() -> str:
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())

    before = scrape()
    template = make_template("fast_async", inputs={"x": int}, outputs={"y": int})
    create(server, template, make_inputs(template, {"x": 1}))
    with pytest.raises(grpc.RpcError):
        create(server, make_template("failing"))
    after = scrape()
    ok = "flyte_connector_requests_success_total"
    bad = "flyte_connector_requests_failure_total"
    assert _sample(after, ok, task_type="fast_async", operation="create") == (
        _sample(before, ok, task_type="fast_async", operation="create") + 1
    )
    failed = {"task_type": "failing", "operation": "create", "error_code": "500"}
    assert _sample(after, bad, **failed, grpc_code="INTERNAL") == (
        _sample(before, bad, **failed, grpc_code="INTERNAL") + 1
    )
    assert "flyte_connector_request_latency_seconds_count" in after
    assert "flyte_connector_input_literal_bytes_count" in after
    assert "agenthost_requests_in_flight" in after
