"""Base classes that agents subclass: ``AsyncAgentBase`` (create/get/delete) and
``SyncAgentBase`` (do). Any agent method may be ``def`` or ``async def``."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from agenthost.resource import Resource, ResourceMeta

if TYPE_CHECKING:
    from flyteidl.core.literals_pb2 import LiteralMap
    from flyteidl.core.tasks_pb2 import TaskTemplate


@dataclass(frozen=True, order=True)
class TaskCategory:
    """A task type an agent serves: its name (``TaskTemplate.type``) and version
    (``TaskTemplate.task_type_version``)."""

    name: str
    version: int = 0

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"


class AgentBase:
    """What every agent has: a display ``name``, the ``task_category`` it serves and whether it
    answers synchronously. Subclass ``AsyncAgentBase`` or ``SyncAgentBase``, not this.

    An agent that holds clients or sessions may define ``aclose()`` (``async def`` or ``def``)
    to release them: the server calls it once when it stops, after the last call finished.
    """

    is_sync: ClassVar[bool] = False

    kind: ClassVar[str] = "async"
    """How the host runs this agent, as ``agenthost plugins`` shows it: ``"async"``
    (create/get/delete), ``"sync"`` (do) or ``"sensor"`` (poke)."""

    def __init__(
        self,
        task_type_name: str,
        task_type_version: int = 0,
        *,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.task_category = TaskCategory(task_type_name, task_type_version)
        self.name = name or type(self).__name__

    @property
    def task_type_name(self) -> str:
        """The task type this agent serves."""
        return self.task_category.name

    @property
    def task_type_version(self) -> int:
        """The task type version this agent serves."""
        return self.task_category.version

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} for {self.task_category}>"


class AsyncAgentBase(AgentBase):
    """An agent for jobs that run on an external platform.

    ``create`` starts the job and returns a ``metadata_type`` instance (a ``ResourceMeta``
    dataclass); ``get`` reports its ``Resource``; ``delete`` cancels it. All three must be
    idempotent: propeller may call ``get`` on any replica, repeatedly, and ``delete`` twice.
    ``create`` receives keyword arguments ``output_prefix`` and ``task_execution_metadata``;
    methods may declare just the keyword arguments they use, or ``**kwargs``.

    Optional: ``get_metrics(resource_meta, **kwargs) -> GetTaskMetricsResponse`` and
    ``get_logs(resource_meta, **kwargs)`` returning a ``GetTaskLogsResponse``, an iterable of
    them, or an async generator of them.
    """

    def __init__(
        self,
        task_type_name: str,
        metadata_type: type[ResourceMeta],
        task_type_version: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(task_type_name, task_type_version, **kwargs)
        self.metadata_type = metadata_type

    def create(
        self, task_template: TaskTemplate, inputs: LiteralMap | None = None, **kwargs: Any
    ) -> Any:
        """Start the job described by ``task_template`` and return its ``ResourceMeta``."""
        raise NotImplementedError

    def get(self, resource_meta: Any, **kwargs: Any) -> Any:
        """Return the job's current ``Resource`` (phase, message, log links, outputs)."""
        raise NotImplementedError

    def delete(self, resource_meta: Any, **kwargs: Any) -> Any:
        """Cancel the job. Cancelling a finished or unknown job must not be an error."""
        raise NotImplementedError


class SyncAgentBase(AgentBase):
    """An agent that returns the result in the same call (e.g. a chat completion).

    ``do`` receives the template, the inputs and keyword arguments ``output_prefix`` and
    ``task_execution_metadata`` and returns a ``Resource`` with a terminal phase.
    """

    is_sync: ClassVar[bool] = True
    kind: ClassVar[str] = "sync"

    def __init__(self, task_type_name: str, task_type_version: int = 0, **kwargs: Any) -> None:
        super().__init__(task_type_name, task_type_version, **kwargs)

    def do(
        self, task_template: TaskTemplate, inputs: LiteralMap | None = None, **kwargs: Any
    ) -> Resource | Awaitable[Resource]:
        """Run the task and return its final ``Resource``."""
        raise NotImplementedError


def implements(agent: AgentBase, method: str) -> bool:
    """Whether ``agent`` overrides ``method`` of its base class (is not the base stub)."""
    impl = getattr(type(agent), method, None)
    if impl is None:
        return False
    for base in (AsyncAgentBase, SyncAgentBase, AgentBase):
        if getattr(base, method, None) is impl:
            return False
    return True
