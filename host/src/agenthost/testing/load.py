"""Load against a running agenthost: the requests Flyte sends and a driver that keeps callers busy.

The repository's one load generator. The benchmark's load-generator process
(``bench/loadgen.py``) and the reliability soak (``host/tests/reliability/rel_load.py``) build
their requests with these functions and run them with :func:`drive`::

    template = flytekit_template("my_type", inputs=["x"], outputs=["y"])
    create = create_request(template, make_inputs(template, {"x": "hi"}))  # agenthost.testing
    stub = agent_pb2_grpc.AsyncAgentServiceStub(channel)
    tally = await drive([[lambda: stub.CreateTask(create)]] * 16, seconds=2.0)
    print(tally.calls / 2.0, percentile(sorted(tally.latency_ns), 0.99) / 1e3, "µs p99")

v2 requests (flyteidl2, imported only when asked for) are converted from the v1 ones, so both
protocols carry the same task.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from flyteidl.admin import agent_pb2
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, tasks_pb2, types_pb2

Call = Callable[[], Awaitable[object]]
"""One call to time: a zero-argument coroutine function (it may make several RPCs)."""


def flytekit_template(
    task_type: str, inputs: Sequence[str] = (), outputs: Sequence[str] = ()
) -> tasks_pb2.TaskTemplate:
    """A ``TaskTemplate`` shaped like flytekit 1.16 serializes one: id, type, runtime metadata
    and an interface of string ``inputs`` and ``outputs`` (the benchmark's requests; for
    other types, ``agenthost.testing.make_template``)."""
    string = types_pb2.LiteralType(simple=types_pb2.SimpleType.STRING)

    def variables(names: Sequence[str]) -> interface_pb2.VariableMap:
        return interface_pb2.VariableMap(
            variables={name: interface_pb2.Variable(type=string) for name in names}
        )

    return tasks_pb2.TaskTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.ResourceType.TASK,
            project="flytesnacks",
            domain="development",
            name=f"bench.{task_type}",
            version="v1",
        ),
        type=task_type,
        metadata=tasks_pb2.TaskMetadata(
            runtime=tasks_pb2.RuntimeMetadata(
                type=tasks_pb2.RuntimeMetadata.RuntimeType.FLYTE_SDK,
                version="1.16.0",
                flavor="python",
            ),
            interruptible=False,
        ),
        interface=interface_pb2.TypedInterface(
            inputs=variables(inputs), outputs=variables(outputs)
        ),
    )


def create_request(
    template: tasks_pb2.TaskTemplate,
    inputs: literals_pb2.LiteralMap | None = None,
    output_prefix: str = "",
) -> agent_pb2.CreateTaskRequest:
    """``CreateTask`` of ``template`` with ``inputs``."""
    request = agent_pb2.CreateTaskRequest(template=template, output_prefix=output_prefix)
    if inputs is not None:
        request.inputs.CopyFrom(inputs)
    return request


def _category(task_type: str) -> agent_pb2.TaskCategory:
    return agent_pb2.TaskCategory(name=task_type, version=0)


def get_request(
    task_type: str, resource_meta: bytes, output_prefix: str = ""
) -> agent_pb2.GetTaskRequest:
    """``GetTask`` of the job ``resource_meta`` names, as propeller polls it (the task type
    both as the deprecated field and as the category)."""
    return agent_pb2.GetTaskRequest(
        task_type=task_type,
        task_category=_category(task_type),
        resource_meta=resource_meta,
        output_prefix=output_prefix,
    )


def delete_request(task_type: str, resource_meta: bytes) -> agent_pb2.DeleteTaskRequest:
    """``DeleteTask`` of the job ``resource_meta`` names."""
    return agent_pb2.DeleteTaskRequest(
        task_type=task_type, task_category=_category(task_type), resource_meta=resource_meta
    )


def sync_requests(
    template: tasks_pb2.TaskTemplate,
    inputs: literals_pb2.LiteralMap,
    output_prefix: str = "",
) -> tuple[agent_pb2.ExecuteTaskSyncRequest, agent_pb2.ExecuteTaskSyncRequest]:
    """The two messages of an ``ExecuteTaskSync`` stream: the header, then the inputs."""
    header = agent_pb2.CreateRequestHeader(template=template, output_prefix=output_prefix)
    return (
        agent_pb2.ExecuteTaskSyncRequest(header=header),
        agent_pb2.ExecuteTaskSyncRequest(inputs=inputs),
    )


def v2_create_request(request: agent_pb2.CreateTaskRequest) -> Any:
    """flyteidl2's ``CreateTaskRequest`` for the same task, as the Flyte 2 executor sends it:
    inputs as named literals, an empty ``connection``."""
    from flyteidl2.connector import connector_pb2
    from flyteidl2.core import security_pb2
    from flyteidl2.core import tasks_pb2 as tasks2_pb2
    from flyteidl2.task import common_pb2

    template = tasks2_pb2.TaskTemplate.FromString(request.template.SerializeToString())
    named = []
    for name, literal in request.inputs.literals.items():
        entry = common_pb2.NamedLiteral(name=name)
        entry.value.ParseFromString(literal.SerializeToString())  # wire-compatible
        named.append(entry)
    return connector_pb2.CreateTaskRequest(
        template=template,
        inputs=common_pb2.Inputs(literals=named),
        output_prefix=request.output_prefix,
        connection=security_pb2.Connection(),
    )


def v2_get_request(request: agent_pb2.GetTaskRequest) -> Any:
    """flyteidl2's ``GetTaskRequest`` for the same job, with an empty ``connection``."""
    from flyteidl2.connector import connector_pb2
    from flyteidl2.core import security_pb2

    return connector_pb2.GetTaskRequest(
        task_category=connector_pb2.TaskCategory(
            name=request.task_category.name, version=request.task_category.version
        ),
        resource_meta=request.resource_meta,
        output_prefix=request.output_prefix,
        connection=security_pb2.Connection(),
    )


def error_code(error: BaseException) -> str:
    """A gRPC error's status code name (``UNAVAILABLE``), else the exception's type name."""
    if isinstance(error, grpc.aio.AioRpcError | grpc.Call):
        return str(error.code().name)
    return type(error).__name__


def _details(error: BaseException) -> str:
    if isinstance(error, grpc.aio.AioRpcError | grpc.Call):
        return str(error.details())
    return str(error)


@dataclass
class Tally:
    """What :func:`drive` recorded: one entry per call that completed, in completion order,
    and the calls that raised, by error code."""

    began_ns: list[int] = field(default_factory=list)
    """When each completed call began (``time.perf_counter_ns``)."""
    latency_ns: list[int] = field(default_factory=list)
    """How long each completed call took."""
    errors: dict[str, int] = field(default_factory=dict)
    """Calls that raised, by :func:`error_code`."""
    error_samples: dict[str, str] = field(default_factory=dict)
    """One example of the details of each ``"<code> <call's __name__>"``."""

    @property
    def calls(self) -> int:
        """Calls that completed."""
        return len(self.latency_ns)

    @property
    def error_count(self) -> int:
        """Calls that raised."""
        return sum(self.errors.values())

    def failed(self, call: Call, error: BaseException) -> None:
        """Count ``error`` raised by ``call``."""
        code = error_code(error)
        self.errors[code] = self.errors.get(code, 0) + 1
        self.error_samples.setdefault(
            f"{code} {getattr(call, '__name__', 'call')}", _details(error)
        )


async def drive(callers: Sequence[Sequence[Call]], seconds: float) -> Tally:
    """Run one asyncio task per entry of ``callers`` for ``seconds``: each awaits its calls one
    after the other, cycling through them, and times each. A call that raises is counted in
    ``Tally.errors`` and its caller goes on with the next call; none starts after the
    deadline. ``[[call]] * 16`` keeps 16 of the same call in flight."""
    tally = Tally()
    clock = time.perf_counter_ns
    deadline = clock() + int(seconds * 1e9)
    began, took = tally.began_ns.append, tally.latency_ns.append

    async def caller(calls: Sequence[Call]) -> None:
        for call in itertools.cycle(calls):
            start = clock()
            if start >= deadline:
                return
            try:
                await call()
            except Exception as error:
                tally.failed(call, error)
                await asyncio.sleep(0)  # a call failing at once must not starve the others
                continue
            took(clock() - start)
            began(start)

    await asyncio.gather(*(caller(calls) for calls in callers if calls))
    return tally


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``sorted_values`` (nearest rank); NaN when empty."""
    if not sorted_values:
        return float("nan")
    return float(sorted_values[min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))])
