"""Both agents through a real ``agenthost serve`` subprocess, over gRPC with flyteidl's stubs,
against the fake OpenAI server."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
from fake_openai import FakeOpenAI
from flyteidl.admin import agent_pb2
from flyteidl.core.tasks_pb2 import TaskTemplate
from openai_support import API_KEY, load_inputs, load_template, server_env

from agenthost import Phase
from agenthost.literals import to_literal_map
from agenthost.testing import RunningServer, make_template, running_server

BATCH_CATEGORY = agent_pb2.TaskCategory(name="openai-batch", version=0)


@pytest.fixture(scope="module")
def server(fake_openai: FakeOpenAI) -> Iterator[RunningServer]:
    with running_server("--allow", "openai", "--strict", env=server_env(fake_openai)) as running:
        yield running


def execute_sync(server: RunningServer, template: TaskTemplate, inputs: Any) -> Any:
    requests = iter(
        [
            agent_pb2.ExecuteTaskSyncRequest(
                header=agent_pb2.CreateRequestHeader(template=template, output_prefix="/tmp/out")
            ),
            agent_pb2.ExecuteTaskSyncRequest(inputs=inputs),
        ]
    )
    [response] = list(server.sync_stub.ExecuteTaskSync(requests, timeout=60))
    return response.header.resource


def chat_template(model: str) -> TaskTemplate:
    return make_template(
        "chatgpt",
        inputs={"message": str},
        outputs={"o0": str},
        custom={"openai_organization": "org-srv", "chatgpt_config": {"model": model}},
    )


def chat_inputs(text: str) -> Any:
    return to_literal_map({"message": text}, chat_template("m").interface.inputs)


def received_over_http(fake_openai: FakeOpenAI, prefix: str) -> list[dict[str, Any]]:
    """The fake server's record of requests, read through its ``/_test/requests`` endpoint."""
    url = fake_openai.base_url.removesuffix("/v1") + "/_test/requests"
    with urllib.request.urlopen(url, timeout=30) as response:
        requests: list[dict[str, Any]] = json.load(response)
    return [r for r in requests if r["path"].startswith(prefix)]


def get_task(server: RunningServer, meta: bytes) -> agent_pb2.Resource:
    request = agent_pb2.GetTaskRequest(resource_meta=meta, task_category=BATCH_CATEGORY)
    return server.async_stub.GetTask(request, timeout=60).resource


def test_agents_are_listed(server: RunningServer) -> None:
    agents = server.metadata_stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=30).agents
    served = {(c.name, a.is_sync) for a in agents for c in a.supported_task_categories}
    assert ("chatgpt", True) in served
    assert ("openai-batch", False) in served


def test_flytekit_chat_template_succeeds_with_o0(
    server: RunningServer, fake_openai: FakeOpenAI
) -> None:
    seen = len(fake_openai.received("/v1/chat/completions"))
    resource = execute_sync(server, load_template("chatgpt"), load_inputs("chatgpt"))
    assert resource.phase == Phase.SUCCEEDED
    assert resource.outputs.literals["o0"].scalar.primitive.string_value == "echo: Say hi"
    [request] = received_over_http(fake_openai, "/v1/chat/completions")[seen:]
    assert request["headers"]["authorization"] == f"Bearer {API_KEY}"
    assert request["headers"]["openai-organization"] == "org-fixture"


def test_chat_rate_limit_is_retryable_failed(server: RunningServer) -> None:
    resource = execute_sync(server, chat_template("error-429"), chat_inputs("hi"))
    assert resource.phase == Phase.RETRYABLE_FAILED
    assert "Rate limit reached" in resource.message
    assert resource.agent_error.kind == agent_pb2.AgentError.RECOVERABLE


def test_chat_bad_key_is_failed_without_the_key(server: RunningServer) -> None:
    resource = execute_sync(server, chat_template("error-401"), chat_inputs("hi"))
    assert resource.phase == Phase.FAILED
    assert "Incorrect API key provided" in resource.message
    assert API_KEY not in resource.message
    assert API_KEY not in server.logs()


def test_flytekit_batch_runs_to_succeeded_with_result(server: RunningServer) -> None:
    created = server.async_stub.CreateTask(
        agent_pb2.CreateTaskRequest(
            template=load_template("batch"), inputs=load_inputs("batch"), output_prefix="/tmp/o"
        ),
        timeout=60,
    )
    phases = []
    for _ in range(10):
        resource = get_task(server, created.resource_meta)
        phases.append(resource.phase)
        if resource.phase != Phase.RUNNING:
            break
    assert phases == [Phase.RUNNING] * 3 + [Phase.SUCCEEDED]
    literal = resource.outputs.literals["result"]
    assert literal.scalar.binary.tag == "msgpack"
    result = msgpack.unpackb(literal.scalar.binary.value)
    assert result["status"] == "completed"
    assert result["metadata"] == {"purpose": "fixture"}


def test_batch_delete_cancels(server: RunningServer, fake_openai: FakeOpenAI) -> None:
    template = load_template("batch")
    inputs = to_literal_map({"input_file_id": "file-srv-cancel"}, template.interface.inputs)
    created = server.async_stub.CreateTask(
        agent_pb2.CreateTaskRequest(template=template, inputs=inputs, output_prefix="/tmp/o"),
        timeout=60,
    )
    assert get_task(server, created.resource_meta).phase == Phase.RUNNING
    delete = agent_pb2.DeleteTaskRequest(
        resource_meta=created.resource_meta, task_category=BATCH_CATEGORY
    )
    server.async_stub.DeleteTask(delete, timeout=60)
    server.async_stub.DeleteTask(delete, timeout=60)  # idempotent
    batch_id = batch_id_of(created.resource_meta)
    assert len(fake_openai.received(f"/v1/batches/{batch_id}/cancel")) == 1
    final = get_task(server, created.resource_meta)
    assert final.phase == Phase.FAILED
    assert "cancelled" in final.message


def test_batch_create_rate_limited_is_retryable_failed(server: RunningServer) -> None:
    template = load_template("batch")
    inputs = to_literal_map({"input_file_id": "error-429"}, template.interface.inputs)
    created = server.async_stub.CreateTask(
        agent_pb2.CreateTaskRequest(template=template, inputs=inputs, output_prefix="/tmp/o"),
        timeout=60,
    )
    resource = get_task(server, created.resource_meta)
    assert resource.phase == Phase.RETRYABLE_FAILED
    assert "Rate limit reached" in resource.message


def batch_id_of(resource_meta: bytes) -> str:
    batch_id = json.loads(resource_meta)["batch_id"]
    assert isinstance(batch_id, str)
    return batch_id


def test_batch_delete_failure_is_reported_without_the_key(server: RunningServer) -> None:
    import grpc

    meta = b'{"openai_org": null, "batch_id": "error-401"}'
    delete = agent_pb2.DeleteTaskRequest(resource_meta=meta, task_category=BATCH_CATEGORY)
    with pytest.raises(grpc.RpcError) as raised:
        server.async_stub.DeleteTask(delete, timeout=60)
    details = raised.value.details()
    assert "Incorrect API key provided" in details
    assert API_KEY not in details
    assert "Traceback" not in details


def test_malicious_pickled_resource_meta_is_rejected(server: RunningServer) -> None:
    import pickle

    import grpc

    class Exploit:
        def __reduce__(self) -> Any:
            return (print, ("pwned",))

    request = agent_pb2.GetTaskRequest(
        resource_meta=pickle.dumps(Exploit()), task_category=BATCH_CATEGORY
    )
    with pytest.raises(grpc.RpcError) as raised:
        server.async_stub.GetTask(request, timeout=60)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "pwned" not in server.logs()


def test_uploaded_file_runs_as_a_batch(server: RunningServer, fake_openai: FakeOpenAI) -> None:
    """The flow of flytekit's batch workflow: upload a JSONL file, then batch it by file id."""
    import openai

    client = openai.OpenAI(api_key=API_KEY, base_url=fake_openai.base_url, max_retries=0)
    line = {
        "custom_id": "1",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]},
    }
    uploaded = client.files.create(file=("in.jsonl", json.dumps(line).encode()), purpose="batch")
    client.close()

    template = load_template("batch")
    inputs = to_literal_map({"input_file_id": uploaded.id}, template.interface.inputs)
    created = server.async_stub.CreateTask(
        agent_pb2.CreateTaskRequest(template=template, inputs=inputs, output_prefix="/tmp/o"),
        timeout=60,
    )
    for _ in range(10):
        resource = get_task(server, created.resource_meta)
        if resource.phase != Phase.RUNNING:
            break
    assert resource.phase == Phase.SUCCEEDED
    result = msgpack.unpackb(resource.outputs.literals["result"].scalar.binary.value)
    assert result["input_file_id"] == uploaded.id
