"""Every log line about a call names the Flyte execution the request is for, and an error line
carries the correlation id the client was given: as fields in JSON logs, as ``key=value`` in
text logs, also for what agent code logs while it runs."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import grpc
import pytest
from flyteidl.admin import agent_pb2
from flyteidl.core import identifier_pb2
from server_test_kit import test_server

from agenthost.connection import Connection, using_connection
from agenthost.server.logs import (
    JsonFormatter,
    SecretScrubbingFormatter,
    TextFormatter,
    call_fields,
)
from agenthost.testing import RunningServer, make_template, wait_for

EXECUTION = {
    "project": "flytesnacks",
    "domain": "production",
    "execution_name": "f3a9c2e1b7d4",
    "node_id": "n2",
    "retry_attempt": "1",
}


def _metadata() -> agent_pb2.TaskExecutionMetadata:
    execution = identifier_pb2.WorkflowExecutionIdentifier(
        project=EXECUTION["project"], domain=EXECUTION["domain"], name=EXECUTION["execution_name"]
    )
    node = identifier_pb2.NodeExecutionIdentifier(
        node_id=EXECUTION["node_id"], execution_id=execution
    )
    task = identifier_pb2.TaskExecutionIdentifier(
        node_execution_id=node, retry_attempt=int(EXECUTION["retry_attempt"])
    )
    return agent_pb2.TaskExecutionMetadata(
        task_execution_id=task, namespace="flytesnacks-production"
    )


def _failing_create(server: RunningServer) -> str:
    """CreateTask of a task whose agent raises; the correlation id the client sees."""
    request = agent_pb2.CreateTaskRequest(
        template=make_template("failing"),
        output_prefix="s3://bucket/metadata/n2/1",
        task_execution_metadata=_metadata(),
    )
    with pytest.raises(grpc.RpcError) as info:
        server.async_stub.CreateTask(request, timeout=20)
    assert info.value.code() == grpc.StatusCode.INTERNAL
    return str(info.value.details()).rsplit("correlation id: ", 1)[1].rstrip(")")


def _line_with(server: RunningServer, text: str) -> str:
    return str(wait_for(lambda: next((x for x in server.logs().splitlines() if text in x), None)))


def test_json_error_line_names_the_execution_and_the_correlation_id(markers: Path) -> None:
    with test_server(markers, "--log-format", "json") as server:
        correlation = _failing_create(server)
        record: dict[str, Any] = json.loads(
            _line_with(server, f'"correlation_id": "{correlation}"')
        )
        assert record["level"] == "ERROR"
        assert {k: record.get(k) for k in EXECUTION} == EXECUTION
        assert record["output_prefix"] == "s3://bucket/metadata/n2/1"
        assert record["operation"] == "create" and record["task_type"] == "failing"
        # What the agent itself logged during the call (in a worker thread) names it too.
        agent_record = json.loads(_line_with(server, "fails on purpose"))
        assert agent_record["execution_name"] == EXECUTION["execution_name"]
        assert agent_record["logger"] == "fake_plugins.basic"


def test_json_lines_hold_no_secret_escaped_as_json(markers: Path) -> None:
    """A secret with line breaks and quotes (a PEM key, a service-account JSON) is escaped in a
    JSON line, as in the traceback of the agent's exception that carries it: it is scrubbed
    all the same."""
    secret = '{"private_key": "-----BEGIN KEY-----\nMIIsecret\n-----END KEY-----"}'
    with test_server(markers, "--log-format", "json", env={"_FSEC_TEST_TOKEN": secret}) as server:
        correlation = _failing_create(server)
        record = json.loads(_line_with(server, f'"correlation_id": "{correlation}"'))
        assert "token=***" in record["exc"]
        logs = server.logs()
    assert "MIIsecret" not in logs


def test_connection_secrets_are_scrubbed_from_json_lines_however_escaped() -> None:
    formatter = SecretScrubbingFormatter(JsonFormatter())
    secrets = {"pem": "-----BEGIN-----\nabc\n-----END-----", "quoted": 'pa"ss\\word'}
    secrets["unicode"] = "mot-de-passe-\u00e9t\u00e9"
    record = logging.LogRecord(
        "agent", logging.ERROR, __file__, 1, "failed: %s %s %r", tuple(secrets.values()), None
    )
    with using_connection(Connection(secrets=secrets)):
        line = formatter.format(record)
    assert json.loads(line)["message"] == "failed: *** *** '***'"


def test_text_lines_append_the_execution(markers: Path) -> None:
    with test_server(markers) as server:
        correlation = _failing_create(server)
        line = _line_with(server, f"correlation_id={correlation}")
        assert f"execution_name={EXECUTION['execution_name']}" in line
        assert "node_id=n2 retry_attempt=1" in line
        # GetTask carries only output_prefix: its failure line names it.
        request = agent_pb2.GetTaskRequest(
            task_type="no_such_type", resource_meta=b"{}", output_prefix="s3://bucket/out/x"
        )
        with pytest.raises(grpc.RpcError):
            server.async_stub.GetTask(request, timeout=20)
        line = _line_with(server, "task_type=unknown code=NOT_FOUND")
        assert "[output_prefix=s3://bucket/out/x]" in line
        assert "execution_name" not in line


def test_call_fields_leave_out_what_the_request_does_not_say() -> None:
    assert call_fields(agent_pb2.DeleteTaskRequest(task_type="x")) == {}
    fields = call_fields(agent_pb2.CreateTaskRequest(task_execution_metadata=_metadata()))
    assert fields == EXECUTION
    header = agent_pb2.CreateRequestHeader(
        output_prefix="s3://b/p", task_execution_metadata=_metadata()
    )
    # ExecuteTaskSync's first request: its header says it all.
    first = agent_pb2.ExecuteTaskSyncRequest(header=header)
    assert call_fields(first) == {**EXECUTION, "output_prefix": "s3://b/p"}
    assert call_fields(agent_pb2.ExecuteTaskSyncRequest()) == {}


def test_text_fields_cannot_forge_a_log_line() -> None:
    formatter = TextFormatter()
    record = logging.LogRecord("agenthost.server", logging.INFO, __file__, 1, "call", None, None)
    record.execution_name = "abc\n2026-01-01 00:00:00,000 ERROR forged"
    line = formatter.format(record)
    assert "\n" not in line
    assert 'execution_name="abc\\n2026' in line
