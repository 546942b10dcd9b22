"""One task's whole lifecycle, driven the way propeller would, without Flyte.

Async agents (and sensors): ``create``, then ``get`` with backoff until the phase is terminal;
cancelling the run (Ctrl-C in ``agenthost run``) calls ``delete``. Sync agents: ``do``. The calls
go to a ``Backend`` (``agenthost.run.backends``: in this process; ``agenthost.run.remote``: over
gRPC). ``agenthost run`` and ``agenthost.testing`` both use ``run_task``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flyteidl.admin import agent_pb2
from flyteidl.core import execution_pb2, literals_pb2, tasks_pb2

from agenthost.errors import AgentHostError
from agenthost.phases import is_terminal_phase, phase_name

if TYPE_CHECKING:
    from agenthost.run.backends import Backend

SUCCESS_PHASES = frozenset({execution_pb2.TaskExecution.SUCCEEDED})
"""Terminal phases that count as success."""


class RemoteCallError(AgentHostError):
    """A call to a remote agent service failed; carries the gRPC status code name."""

    def __init__(self, operation: str, code: str, details: str) -> None:
        self.operation = operation
        self.code = code
        self.details = details
        super().__init__(f"{operation} failed with {code}: {details}")


class RunInterrupted(AgentHostError):
    """The run was cancelled (Ctrl-C). ``deleted`` tells whether ``delete`` was called and
    succeeded; ``delete_error`` holds a one-line reason if it failed."""

    def __init__(self, created: bool, deleted: bool, delete_error: str | None = None) -> None:
        self.created = created
        self.deleted = deleted
        self.delete_error = delete_error
        if not created:
            text = "interrupted before the task was created"
        elif deleted:
            text = "interrupted; the task was deleted"
        else:
            text = f"interrupted; deleting the task failed: {delete_error}"
        super().__init__(text)


class RunTimeout(AgentHostError):
    """The task did not reach a terminal phase in time (it was deleted)."""


# -- status and result --------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """One observation of the task: its phase, message and log links, and when it was seen
    (seconds since the run started)."""

    phase: int
    message: str
    log_links: tuple[execution_pb2.TaskLog, ...]
    elapsed: float

    @property
    def phase_name(self) -> str:
        """The flyteidl name of the phase (``"RUNNING"``)."""
        return phase_name(self.phase)

    @classmethod
    def of(cls, resource: agent_pb2.Resource, elapsed: float) -> Status:
        """The status a flyteidl ``Resource`` reports."""
        return cls(resource.phase, resource.message, tuple(resource.log_links), elapsed)


@dataclass
class RunResult:
    """The final ``Resource`` of a run, every status seen on the way, and the template."""

    resource: agent_pb2.Resource
    template: tasks_pb2.TaskTemplate
    statuses: list[Status] = field(default_factory=list)

    @property
    def phase(self) -> int:
        """The final phase."""
        return int(self.resource.phase)

    @property
    def phase_name(self) -> str:
        """The final phase's name (``"SUCCEEDED"``)."""
        return phase_name(self.resource.phase)

    @property
    def message(self) -> str:
        """The final message."""
        return str(self.resource.message)

    @property
    def succeeded(self) -> bool:
        """Whether the task succeeded."""
        return self.resource.phase in SUCCESS_PHASES

    @property
    def outputs(self) -> dict[str, Any]:
        """The outputs as Python values, typed by the template's output interface when it
        declares the same names, untyped otherwise."""
        from agenthost.literals import literal_map_to_python

        literals = self.resource.outputs
        declared = self.template.interface.outputs if self.template.HasField("interface") else None
        if declared is not None and set(declared.variables) == set(literals.literals):
            return literal_map_to_python(literals, declared, kind="output")
        return literal_map_to_python(literals, None, kind="output")


# -- the lifecycle -------------------------------------------------------------------------


@dataclass(frozen=True)
class Backoff:
    """Delays between ``get`` calls: ``initial``, growing by ``factor`` up to ``maximum``."""

    initial: float = 0.2
    factor: float = 1.5
    maximum: float = 5.0

    def delays(self) -> Iterable[float]:
        """The delays, forever."""
        delay = self.initial
        while True:
            yield delay
            delay = min(delay * self.factor, self.maximum)


async def run_task(
    backend: Backend,
    template: tasks_pb2.TaskTemplate,
    inputs: literals_pb2.LiteralMap | None = None,
    *,
    on_status: Callable[[Status], None] | None = None,
    backoff: Backoff = Backoff(),
    timeout: float | None = None,
    delete_timeout: float = 30.0,
) -> RunResult:
    """Run ``template`` to a terminal phase through ``backend``; see the module docstring.

    ``on_status`` sees every status. Cancelling the coroutine after ``create`` calls
    ``delete`` and raises ``RunInterrupted``; exceeding ``timeout`` seconds deletes the task
    and raises ``RunTimeout``. Errors from the agent or the transport propagate.
    """
    inputs = inputs if inputs is not None else literals_pb2.LiteralMap()
    observe = _Observer(time.monotonic(), on_status)
    try:
        if await backend.is_sync(template):
            resource = observe(await backend.do(template, inputs))
            return RunResult(resource, template, observe.statuses)
        meta = await backend.create(template, inputs)
    except asyncio.CancelledError:
        raise RunInterrupted(created=False, deleted=False) from None
    try:
        return await _poll(backend, template, meta, observe, backoff, timeout, delete_timeout)
    except asyncio.CancelledError:
        error = await _delete(backend, template, meta, delete_timeout)
        raise RunInterrupted(created=True, deleted=error is None, delete_error=error) from None


@dataclass
class _Observer:
    """Records each status of one run (seconds since ``started``) and passes it on."""

    started: float
    on_status: Callable[[Status], None] | None
    statuses: list[Status] = field(default_factory=list)

    def __call__(self, resource: agent_pb2.Resource) -> agent_pb2.Resource:
        status = Status.of(resource, self.elapsed())
        self.statuses.append(status)
        if self.on_status is not None:
            self.on_status(status)
        return resource

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started


async def _poll(
    backend: Backend,
    template: tasks_pb2.TaskTemplate,
    meta: bytes,
    observe: _Observer,
    backoff: Backoff,
    timeout: float | None,
    delete_timeout: float,
) -> RunResult:
    """Get the task until its phase is terminal, deleting it if ``timeout`` runs out."""
    for delay in backoff.delays():
        resource = observe(await backend.get(template, meta))
        if is_terminal_phase(resource.phase):
            return RunResult(resource, template, observe.statuses)
        if timeout is not None:
            left = timeout - observe.elapsed()
            if left <= 0:
                error = await _delete(backend, template, meta, delete_timeout)
                suffix = "" if error is None else f" (deleting it failed: {error})"
                raise RunTimeout(
                    f"the task did not finish within {timeout:g} s; it was deleted{suffix}"
                )
            delay = min(delay, left)
        await asyncio.sleep(delay)
    raise AssertionError("Backoff.delays() ended")


async def _delete(
    backend: Backend, template: tasks_pb2.TaskTemplate, meta: bytes, delete_timeout: float
) -> str | None:
    """Delete the task; why that failed, or None."""
    try:
        await asyncio.wait_for(backend.delete(template, meta), delete_timeout)
    except (AgentHostError, asyncio.TimeoutError, OSError) as exc:
        return str(exc) or type(exc).__name__
    return None


def run_blocking(
    backend_factory: Callable[[], Backend],
    template: tasks_pb2.TaskTemplate,
    inputs: literals_pb2.LiteralMap | None = None,
    **kwargs: Any,
) -> RunResult:
    """``run_task`` on a fresh event loop (the backend is created inside the loop)."""

    async def main() -> RunResult:
        backend = backend_factory()
        try:
            return await run_task(backend, template, inputs, **kwargs)
        finally:
            await backend.close()

    return asyncio.run(main())
