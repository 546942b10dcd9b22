"""The calls the Flyte 2 executor's ``connector-service`` plugin makes, over flyteidl2's
generated stubs (flyteorg/flyte ``main``, ``flyteplugins/go/tasks/plugins/webapi/connector``):
CreateTask with the inputs as named literals and the task's ``connection``, GetTask with the
same ``connection`` until a terminal phase, DeleteTask on abort."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, TypeVar

from flyteidl2.connector import connector_pb2, service_pb2_grpc
from flyteidl2.core import security_pb2
from google.protobuf.message import Message

CALL_TIMEOUT = 30.0
TERMINAL = frozenset({3, 4, 5, 8})  # SUCCEEDED, ABORTED, FAILED, RETRYABLE_FAILED
FIXTURES = Path(__file__).resolve().parent / "flyte2_fixtures"

M = TypeVar("M", bound=Message)


def fixture(name: str, message_type: type[M]) -> M:
    """A committed flyte-sdk fixture (``flyte2_fixtures/NAME.pb``) as ``message_type``."""
    message = message_type()
    message.ParseFromString((FIXTURES / f"{name}.pb").read_bytes())
    return message


def async_stub(channel: Any) -> service_pb2_grpc.AsyncConnectorServiceStub:
    """A stub for ``flyteidl2.connector.AsyncConnectorService``."""
    return service_pb2_grpc.AsyncConnectorServiceStub(channel)


def category_of(template: Any) -> connector_pb2.TaskCategory:
    """The ``TaskCategory`` the executor derives from a template."""
    return connector_pb2.TaskCategory(name=template.type, version=template.task_type_version)


def get(
    stub: Any,
    category: connector_pb2.TaskCategory,
    resource_meta: bytes,
    connection: security_pb2.Connection | None = None,
) -> connector_pb2.Resource:
    """GetTask as the executor sends it (the connection again, every poll)."""
    request = connector_pb2.GetTaskRequest(
        task_category=category,
        resource_meta=resource_meta,
        output_prefix="s3://bucket/r1abc/a1/0",
        connection=connection or security_pb2.Connection(),
    )
    return stub.GetTask(request, timeout=CALL_TIMEOUT).resource


def delete(
    stub: Any,
    category: connector_pb2.TaskCategory,
    resource_meta: bytes,
    connection: security_pb2.Connection | None = None,
) -> None:
    """DeleteTask as the executor sends it on abort (no output prefix)."""
    request = connector_pb2.DeleteTaskRequest(
        task_category=category,
        resource_meta=resource_meta,
        connection=connection or security_pb2.Connection(),
    )
    stub.DeleteTask(request, timeout=CALL_TIMEOUT)


def poll(
    stub: Any,
    category: connector_pb2.TaskCategory,
    resource_meta: bytes,
    connection: security_pb2.Connection | None = None,
    timeout: float = 60.0,
) -> tuple[connector_pb2.Resource, list[int]]:
    """GetTask until the phase is terminal; the final resource and every phase seen."""
    deadline = time.monotonic() + timeout
    phases: list[int] = []
    while True:
        resource = get(stub, category, resource_meta, connection)
        phases.append(resource.phase)
        if resource.phase in TERMINAL:
            return resource, phases
        if time.monotonic() > deadline:
            raise TimeoutError(f"still {resource.phase} after {timeout} s: {resource.message}")
        time.sleep(0.1)
