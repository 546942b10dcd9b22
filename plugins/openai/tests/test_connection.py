"""Flyte 2: the API key in a task's ``connection`` (secret ``openai_api_key``) is the one the
real ``openai`` client sends to the (fake) OpenAI server, over v2 through a real
``agenthost serve``; it never appears in replies, ``resource_meta`` or the server's logs.
Calls without a connection (v1, or v2 with an empty one) use the deployment's key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from fake_openai import FakeOpenAI
from flyteidl.admin import agent_pb2
from flyteidl.core.literals_pb2 import LiteralMap
from flyteidl.core.tasks_pb2 import TaskTemplate
from openai_support import API_KEY, load_inputs, load_template, server_env

from agenthost import Phase
from agenthost.literals import to_literal_map
from agenthost.testing import RunningServer, make_template, running_server

connector_pb2 = pytest.importorskip("flyteidl2.connector.connector_pb2")
from flyteidl2.connector import service_pb2_grpc  # noqa: E402
from flyteidl2.core import security_pb2, tasks_pb2  # noqa: E402
from flyteidl2.task import common_pb2  # noqa: E402

CONNECTION_KEY = "sk-conn-9f8e7d6c5b4a3210"
BATCH = connector_pb2.TaskCategory(name="openai-batch", version=0)
CHAT = connector_pb2.TaskCategory(name="chatgpt", version=0)


@pytest.fixture(scope="module")
def server(fake_openai: FakeOpenAI) -> Iterator[RunningServer]:
    env = server_env(fake_openai, max_retries="0")
    with running_server("--allow", "openai", "--strict", env=env) as running:
        yield running


def connection(key: str | None = CONNECTION_KEY) -> Any:
    """The connection the Flyte 2 executor sends: the task's secrets resolved to values."""
    return security_pb2.Connection(secrets={"openai_api_key": key} if key else {})


def v2_template(template: TaskTemplate) -> Any:
    """The same template as a flyteidl2 message (wire-compatible)."""
    return tasks_pb2.TaskTemplate.FromString(template.SerializeToString())


def v2_inputs(inputs: LiteralMap) -> Any:
    """Inputs as the executor sends them: named literals."""
    named = []
    for name, literal in inputs.literals.items():
        entry = common_pb2.NamedLiteral(name=name)
        entry.value.ParseFromString(literal.SerializeToString())
        named.append(entry)
    return common_pb2.Inputs(literals=named)


def chat(model: str) -> tuple[TaskTemplate, LiteralMap]:
    template = make_template(
        "chatgpt",
        inputs={"message": str},
        outputs={"o0": str},
        custom={"openai_organization": "org-v2", "chatgpt_config": {"model": model}},
    )
    return template, to_literal_map({"message": "hi"}, template.interface.inputs)


def run_v2(
    server: RunningServer, template: TaskTemplate, inputs: LiteralMap, conn: Any
) -> tuple[bytes, Any]:
    """CreateTask then one GetTask, as the executor sends them (the connection both times)."""
    stub = service_pb2_grpc.AsyncConnectorServiceStub(server.channel)
    request = connector_pb2.CreateTaskRequest(
        template=v2_template(template),
        inputs=v2_inputs(inputs),
        output_prefix="/tmp/o",
        connection=conn,
    )
    meta = stub.CreateTask(request, timeout=60).resource_meta
    category = connector_pb2.TaskCategory(name=template.type, version=0)
    get = connector_pb2.GetTaskRequest(task_category=category, resource_meta=meta, connection=conn)
    return meta, stub.GetTask(get, timeout=60).resource


def bearers(fake_openai: FakeOpenAI, path: str, since: int) -> list[str]:
    return [r["headers"]["authorization"] for r in fake_openai.received(path)[since:]]


def test_chat_over_v2_sends_the_connection_key(
    server: RunningServer, fake_openai: FakeOpenAI
) -> None:
    seen = len(fake_openai.received("/v1/chat/completions"))
    meta, resource = run_v2(server, *chat("m"), connection())

    assert resource.phase == Phase.SUCCEEDED, resource.message
    (output,) = resource.outputs.literals
    assert (output.name, output.value.scalar.primitive.string_value) == ("o0", "echo: hi")
    assert bearers(fake_openai, "/v1/chat/completions", seen) == [f"Bearer {CONNECTION_KEY}"]
    assert CONNECTION_KEY.encode() not in meta
    assert CONNECTION_KEY not in str(resource)
    assert CONNECTION_KEY not in server.logs()


def test_without_a_connection_key_the_deployment_key_is_sent(
    server: RunningServer, fake_openai: FakeOpenAI
) -> None:
    seen = len(fake_openai.received("/v1/chat/completions"))
    _, resource = run_v2(server, *chat("m"), connection(None))
    assert resource.phase == Phase.SUCCEEDED, resource.message
    header = agent_pb2.CreateRequestHeader(template=chat("m")[0], output_prefix="/tmp/o")
    requests = iter(
        [
            agent_pb2.ExecuteTaskSyncRequest(header=header),
            agent_pb2.ExecuteTaskSyncRequest(inputs=chat("m")[1]),
        ]
    )
    [response] = list(server.sync_stub.ExecuteTaskSync(requests, timeout=60))
    assert response.header.resource.phase == Phase.SUCCEEDED
    assert bearers(fake_openai, "/v1/chat/completions", seen) == [f"Bearer {API_KEY}"] * 2


def test_a_refused_connection_key_is_scrubbed(server: RunningServer) -> None:
    # The fake server echoes the key it was given in its 401 message, as OpenAI does.
    meta, resource = run_v2(server, *chat("error-401"), connection())
    assert resource.phase == Phase.FAILED
    assert "Incorrect API key provided" in resource.message
    assert CONNECTION_KEY not in resource.message
    assert CONNECTION_KEY.encode() not in meta
    assert CONNECTION_KEY not in server.logs()


def test_batch_over_v2_creates_polls_and_cancels_with_the_connection_key(
    server: RunningServer, fake_openai: FakeOpenAI
) -> None:
    template = load_template("batch")
    inputs = to_literal_map({"input_file_id": "file-v2-cancel"}, template.interface.inputs)
    created_before = len(fake_openai.received("/v1/batches"))
    meta, resource = run_v2(server, template, inputs, connection())
    assert resource.phase == Phase.RUNNING, resource.message
    assert CONNECTION_KEY.encode() not in meta

    stub = service_pb2_grpc.AsyncConnectorServiceStub(server.channel)
    delete = connector_pb2.DeleteTaskRequest(
        task_category=BATCH, resource_meta=meta, connection=connection()
    )
    stub.DeleteTask(delete, timeout=60)

    seen = bearers(fake_openai, "/v1/batches", created_before)
    assert len(seen) >= 3  # create, retrieve (get), retrieve + cancel (delete)
    assert set(seen) == {f"Bearer {CONNECTION_KEY}"}
    assert CONNECTION_KEY not in server.logs()


def test_flytekit_batch_template_over_v1_keeps_the_deployment_key(
    server: RunningServer, fake_openai: FakeOpenAI
) -> None:
    before = len(fake_openai.received("/v1/batches"))
    request = agent_pb2.CreateTaskRequest(
        template=load_template("batch"), inputs=load_inputs("batch"), output_prefix="/tmp/o"
    )
    server.async_stub.CreateTask(request, timeout=60)
    assert set(bearers(fake_openai, "/v1/batches", before)) == {f"Bearer {API_KEY}"}


def test_a_connection_key_no_header_can_carry_is_invalid_argument(
    server: RunningServer, fake_openai: FakeOpenAI
) -> None:
    """Issue 20.8: like the organization, a per-task key with CR/LF is the caller's error,
    refused before any request, never a retryable "could not connect"."""
    seen = len(fake_openai.received("/v1/chat/completions"))
    with pytest.raises(grpc.RpcError) as caught:
        run_v2(server, *chat("m"), connection("sk-conn\r\nX-Evil: 1"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = caught.value.details() or ""
    assert details.startswith("connection secret openai_api_key holds a line break")
    assert "X-Evil" not in details
    assert len(fake_openai.received("/v1/chat/completions")) == seen
