"""The calls propeller's agent plugin makes, over flyteidl's generated stubs
(flyteplugins ``go/tasks/plugins/webapi/agent``): CreateTask then GetTask until a terminal
phase, DeleteTask on abort, ExecuteTaskSync for sync agents (header, then inputs, then read
exactly one response)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from flyteidl.admin import agent_pb2
from flyteidl.core import literals_pb2, tasks_pb2

from agenthost import is_terminal_phase

CALL_TIMEOUT = 30.0


def category_of(template: tasks_pb2.TaskTemplate) -> agent_pb2.TaskCategory:
    """The ``TaskCategory`` propeller derives from a template."""
    return agent_pb2.TaskCategory(name=template.type, version=template.task_type_version)


def create(
    stub: Any,
    template: tasks_pb2.TaskTemplate,
    inputs: literals_pb2.LiteralMap | None = None,
    output_prefix: str = "s3://my-s3-bucket/metadata/propeller/compat",
) -> bytes:
    """CreateTask; the ``resource_meta`` bytes propeller stores."""
    request = agent_pb2.CreateTaskRequest(template=template, output_prefix=output_prefix)
    if inputs is not None:
        request.inputs.CopyFrom(inputs)
    return bytes(stub.CreateTask(request, timeout=CALL_TIMEOUT).resource_meta)


def get(stub: Any, category: agent_pb2.TaskCategory, resource_meta: bytes) -> agent_pb2.Resource:
    """GetTask as propeller sends it: the deprecated ``task_type`` and the ``task_category``."""
    request = agent_pb2.GetTaskRequest(
        task_type=category.name, task_category=category, resource_meta=resource_meta
    )
    return stub.GetTask(request, timeout=CALL_TIMEOUT).resource


def delete(
    stub: Any, category: agent_pb2.TaskCategory, resource_meta: bytes
) -> agent_pb2.DeleteTaskResponse:
    """DeleteTask as propeller sends it on abort; the response (a failed call raises)."""
    request = agent_pb2.DeleteTaskRequest(
        task_type=category.name, task_category=category, resource_meta=resource_meta
    )
    response: agent_pb2.DeleteTaskResponse = stub.DeleteTask(request, timeout=CALL_TIMEOUT)
    return response


def poll(
    stub: Any,
    category: agent_pb2.TaskCategory,
    resource_meta: bytes,
    timeout: float = 60.0,
    interval: float = 0.1,
) -> tuple[agent_pb2.Resource, list[int]]:
    """GetTask until the phase is terminal; the final resource and every phase seen."""
    deadline = time.monotonic() + timeout
    phases: list[int] = []
    while True:
        resource = get(stub, category, resource_meta)
        phases.append(resource.phase)
        if is_terminal_phase(resource.phase):
            return resource, phases
        if time.monotonic() > deadline:
            raise TimeoutError(f"still {resource.phase} after {timeout} s: {resource.message}")
        time.sleep(interval)


def sync_requests(
    template: tasks_pb2.TaskTemplate, inputs: literals_pb2.LiteralMap
) -> Iterator[agent_pb2.ExecuteTaskSyncRequest]:
    """Header, then inputs, then the end of the stream (half-close)."""
    header = agent_pb2.CreateRequestHeader(
        template=template, output_prefix="s3://my-s3-bucket/metadata/propeller/compat"
    )
    yield agent_pb2.ExecuteTaskSyncRequest(header=header)
    yield agent_pb2.ExecuteTaskSyncRequest(inputs=inputs)


def execute_sync(
    stub: Any, template: tasks_pb2.TaskTemplate, inputs: literals_pb2.LiteralMap
) -> list[agent_pb2.ExecuteTaskSyncResponse]:
    """ExecuteTaskSync; every response of the stream."""
    return list(stub.ExecuteTaskSync(sync_requests(template, inputs), timeout=CALL_TIMEOUT))
