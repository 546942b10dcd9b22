"""Security regressions against a real server running at ``--log-level debug``: request bytes
are never unpickled, nothing named in a request is imported, and neither gRPC details nor
resource messages nor the server's own logs carry tracebacks, server paths or secrets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import agent_pb2
from flyteidl.core import execution_pb2
from rel_fuzz_cases import pickle_payloads
from reliability_kit import SECRETS, problems_in, record, rel_server

from agenthost.testing import RunningServer, make_inputs, make_template, wait_for


@pytest.fixture(scope="module")
def server(markers: Path, secrets_dir: Path) -> Iterator[RunningServer]:
    """One debug-logging server with both secrets planted."""
    with rel_server(markers, "--log-level", "debug", secrets_dir=secrets_dir) as running:
        yield running


def _error(call, *args, **kwargs) -> grpc.RpcError:  # type: ignore[no-untyped-def]
    """The error ``call`` fails with (streaming answers are consumed)."""
    with pytest.raises(grpc.RpcError) as info:
        _consume(call(*args, timeout=10, **kwargs))
    return info.value


def _consume(result: object) -> None:
    if hasattr(result, "__iter__") and not hasattr(result, "ListFields"):
        list(result)  # type: ignore[call-overload]


def category(name: str) -> agent_pb2.TaskCategory:
    return agent_pb2.TaskCategory(name=name, version=0)


@pytest.mark.parametrize("task_type", ["fast_async", "echo_sync", "sensor", "fault_raise"])
def test_pickled_resource_meta_is_never_unpickled(
    server: RunningServer, markers: Path, task_type: str
) -> None:
    marker = markers / f"unpickled-{task_type}"
    stub = server.async_stub
    for payload in pickle_payloads(marker):
        for rpc, message in (
            (stub.GetTask, agent_pb2.GetTaskRequest),
            (stub.DeleteTask, agent_pb2.DeleteTaskRequest),
            (stub.GetTaskMetrics, agent_pb2.GetTaskMetricsRequest),
        ):
            request = message(task_category=category(task_type), resource_meta=payload)
            error = _error(rpc, request)
            assert error.code() in (
                grpc.StatusCode.INVALID_ARGUMENT,
                grpc.StatusCode.UNIMPLEMENTED,
            ), error.details()
            record("security", "pickle payloads refused", 1)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("module", "name"),
    [("os", "system"), ("fake_plugins.import_side_effect", "X"), ("subprocess", "Popen")],
)
def test_sensor_alias_never_imports_the_named_module(
    server: RunningServer, markers: Path, module: str, name: str
) -> None:
    template = make_template(
        "sensor",
        inputs={"path": str},
        custom={"sensor_module": module, "sensor_name": name},
    )
    request = agent_pb2.CreateTaskRequest(
        template=template, inputs=make_inputs(template, {"path": "/tmp"})
    )
    error = _error(server.async_stub.CreateTask, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"sensor_module={module!r} sensor_name={name!r}" in error.details()
    assert not problems_in(error.details())
    # A task type or a recorded sensor naming the module does not import it either.
    error = _error(
        server.async_stub.CreateTask, agent_pb2.CreateTaskRequest(template=make_template(module))
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    meta = json.dumps({"sensor": module, "inputs": {}}).encode()
    error = _error(
        server.async_stub.GetTask,
        agent_pb2.GetTaskRequest(task_category=category("sensor"), resource_meta=meta),
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert not (markers / "imported-import_side_effect").exists()
    record("security", "module-naming requests refused", 3)


def _sync_stream(template):  # type: ignore[no-untyped-def]
    yield agent_pb2.ExecuteTaskSyncRequest(header=agent_pb2.CreateRequestHeader(template=template))
    yield agent_pb2.ExecuteTaskSyncRequest(inputs=make_inputs(template, {}))


def test_agent_errors_reach_clients_clean(server: RunningServer) -> None:
    """Agents whose exceptions carry a traceback, the server's paths and both secrets."""
    meta = json.dumps({"job_id": "j"}).encode()
    raising = category("fault_raise")
    stub = server.async_stub
    errors = [
        _error(stub.CreateTask, agent_pb2.CreateTaskRequest(template=make_template("fault_raise"))),
        _error(stub.GetTask, agent_pb2.GetTaskRequest(task_category=raising, resource_meta=meta)),
        _error(
            stub.DeleteTask, agent_pb2.DeleteTaskRequest(task_category=raising, resource_meta=meta)
        ),
        _error(
            stub.GetTaskLogs,
            agent_pb2.GetTaskLogsRequest(task_category=raising, resource_meta=meta),
        ),
        _error(server.sync_stub.ExecuteTaskSync, _sync_stream(make_template("fault_raise_sync"))),
        _error(
            stub.CreateTask,
            agent_pb2.CreateTaskRequest(template=make_template("fault_raise_sync")),
        ),
    ]
    for error in errors:
        assert error.code() == grpc.StatusCode.INTERNAL
        assert error.details().startswith("agent Raising")
        assert problems_in(error.details()) == [], error.details()
    assert "RuntimeError: RuntimeError: the real problem" in errors[0].details()
    record("security", "leaky agent errors scrubbed", len(errors))

    resource = stub.GetTask(
        agent_pb2.GetTaskRequest(
            task_category=raising, resource_meta=json.dumps({"job_id": "resource"}).encode()
        ),
        timeout=10,
    ).resource
    assert resource.phase == execution_pb2.TaskExecution.FAILED
    assert problems_in(resource.message, multiline_ok=True) == [], resource.message


def test_secrets_never_logged_even_at_debug(server: RunningServer) -> None:
    """Runs after the calls above made the agents read (and fail with) both secrets."""
    request = agent_pb2.CreateTaskRequest(template=make_template("fault_raise"))
    _error(server.async_stub.CreateTask, request)
    correlation = _error(server.async_stub.CreateTask, request).details().rsplit(" ", 1)[1][:-1]
    wait_for(lambda: correlation in server.logs())
    logs = server.logs()
    assert "Traceback" in logs  # tracebacks do reach the server log...
    assert "DEBUG" in logs
    for secret in SECRETS:
        assert secret not in logs  # ...but never a secret value
    record("security", "log lines checked for secrets", len(logs.splitlines()))
