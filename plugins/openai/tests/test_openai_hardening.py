"""Header values and failures through the real server (``agenthost serve`` as a subprocess):
an organization no HTTP header can carry is INVALID_ARGUMENT naming it, before any request (a
local HTTP tripwire stands in for the API and must see nothing); a deployment setting that
cannot work is FAILED_PRECONDITION; an unreachable API is UNAVAILABLE within seconds."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from flyteidl.admin import agent_pb2
from openai_support import API_KEY, DATA

from agenthost.literals import to_literal_map
from agenthost.testing import (
    RunningServer,
    Tripwire,
    make_template,
    running_server,
    tripwire,
    tripwire_fixture,
    unreachable_endpoint,
)

BAD_ORGANIZATIONS = ["org\r\nX-Evil: 1", "org\n", "org\x00", "orgé", " org"]
BASE_ENV = {
    "_FSEC_FLYTE_OPENAI_API_KEY": API_KEY,
    "FLYTE_SECRETS_DEFAULT_DIR": str(DATA / "no-secrets-here"),
    "OPENAI_ORG_ID": "",
    "OPENAI_PROJECT_ID": "",
}


wire = tripwire_fixture()
"""A local HTTP tripwire: the endpoint every request this module provokes must never reach."""


@pytest.fixture(scope="module")
def server(wire: Tripwire) -> Iterator[RunningServer]:
    """A server whose OpenAI endpoint is the tripwire: nothing may reach it."""
    env = {**BASE_ENV, "OPENAI_BASE_URL": f"{wire.url}/v1", "AGENT_OPENAI_MAX_RETRIES": "0"}
    with running_server("--allow", "agent-openai", env=env) as running:
        yield running


def chat(server: RunningServer, organization: Any) -> Any:
    """ExecuteTaskSync of a ``chatgpt`` task; returns the answer's resource."""
    custom = {"openai_organization": organization, "chatgpt_config": {"model": "m"}}
    template = make_template("chatgpt", inputs={"message": str}, outputs={"o0": str}, custom=custom)
    inputs = to_literal_map({"message": "hi"}, template.interface.inputs)
    requests = iter(
        [
            agent_pb2.ExecuteTaskSyncRequest(
                header=agent_pb2.CreateRequestHeader(template=template)
            ),
            agent_pb2.ExecuteTaskSyncRequest(inputs=inputs),
        ]
    )
    [response] = list(server.sync_stub.ExecuteTaskSync(requests, timeout=60))
    return response.header.resource


def refused(call: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    assert "Traceback" not in caught.value.details()
    return caught.value


@pytest.mark.parametrize("organization", BAD_ORGANIZATIONS)
def test_chat_organization_no_header_can_carry_is_invalid_argument(
    server: RunningServer, wire: Tripwire, organization: str
) -> None:
    error = refused(lambda: chat(server, organization))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("openai_organization holds a line break")
    assert wire.requests == []


@pytest.mark.parametrize("organization", BAD_ORGANIZATIONS)
def test_batch_organization_no_header_can_carry_is_invalid_argument(
    server: RunningServer, wire: Tripwire, organization: str
) -> None:
    custom = {"openai_organization": organization, "config": {}}
    template = make_template("openai-batch", inputs={"input_file_id": str}, custom=custom)
    inputs = to_literal_map({"input_file_id": "file-1"}, template.interface.inputs)
    request = agent_pb2.CreateTaskRequest(template=template, inputs=inputs)
    error = refused(lambda: server.async_stub.CreateTask(request, timeout=30))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "openai_organization" in error.details()
    assert wire.requests == []


def test_forged_batch_meta_with_a_bad_organization_is_invalid_argument(
    server: RunningServer, wire: Tripwire
) -> None:
    meta = json.dumps({"openai_org": "org\r\nX-Evil: 1", "batch_id": "b"}).encode()
    category = agent_pb2.TaskCategory(name="openai-batch", version=0)
    for call in (
        lambda: server.async_stub.GetTask(
            agent_pb2.GetTaskRequest(task_category=category, resource_meta=meta), timeout=30
        ),
        lambda: server.async_stub.DeleteTask(
            agent_pb2.DeleteTaskRequest(task_category=category, resource_meta=meta), timeout=30
        ),
    ):
        error = refused(call)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "resource_meta field 'openai_org'" in error.details()
    assert wire.requests == []


def test_forged_pickled_batch_meta_is_invalid_argument(
    server: RunningServer, wire: Tripwire
) -> None:
    # A dict as a key of the state dict: unhashable, it must be refused like any other shape.
    meta = b"\x80\x04}(}}u."
    category = agent_pb2.TaskCategory(name="openai-batch", version=0)
    error = refused(
        lambda: server.async_stub.GetTask(
            agent_pb2.GetTaskRequest(task_category=category, resource_meta=meta), timeout=30
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "resource_meta pickle" in error.details()
    assert "TypeError" not in error.details()


def test_no_request_reached_the_tripwire(wire: Tripwire) -> None:
    assert wire.requests == []


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"_FSEC_FLYTE_OPENAI_API_KEY": "", "OPENAI_API_KEY": ""}, "no OpenAI API key"),
        ({"OPENAI_ORG_ID": "org\r\nX-Evil: 1"}, "$OPENAI_ORG_ID holds a line break"),
        ({"AGENT_OPENAI_TIMEOUT_SECONDS": "soon"}, "$AGENT_OPENAI_TIMEOUT_SECONDS must be"),
    ],
    ids=["no-key", "org-env", "timeout-env"],
)
def test_deployment_that_cannot_work_is_failed_precondition(
    env: dict[str, str], expected: str
) -> None:
    with tripwire() as wire:
        full = {**BASE_ENV, "OPENAI_BASE_URL": f"{wire.url}/v1", **env}
        with running_server("--allow", "agent-openai", env=full) as server:
            error = refused(lambda: chat(server, None))
        assert wire.requests == []
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert expected in error.details()
    assert API_KEY not in error.details()


def test_unreachable_api_is_unavailable_within_seconds() -> None:
    with unreachable_endpoint() as address:
        env = {
            **BASE_ENV,
            "OPENAI_BASE_URL": f"http://{address}/v1",
            "AGENT_OPENAI_CONNECT_TIMEOUT_SECONDS": "1",
            "AGENT_OPENAI_MAX_RETRIES": "1",
        }
        with running_server("--allow", "agent-openai", env=env) as server:
            started = time.monotonic()
            error = refused(lambda: chat(server, "org-ok"))
            took = time.monotonic() - started
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert error.details() == "OpenAI chat completion timed out"
    assert took < 10, took
