"""Where a run's calls go: the ``Backend`` protocol, and ``LocalBackend``, which calls a
``Dispatcher`` in this process (no server). ``agenthost.run.remote`` holds the gRPC ones."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from flyteidl.admin import agent_pb2
from flyteidl.core import literals_pb2, tasks_pb2

if TYPE_CHECKING:
    from agenthost.agent import AgentBase
    from agenthost.core.dispatcher import Dispatcher

DEFAULT_OUTPUT_PREFIX = "file:///tmp/agenthost-run"
"""Where runs tell agents to write outputs unless told otherwise; each task gets a folder named
after the template (``output_prefix_for``)."""


class Backend(Protocol):
    """Where a run's calls go."""

    async def is_sync(self, template: tasks_pb2.TaskTemplate) -> bool:
        """Whether the agent for ``template`` is synchronous (raises if none serves it)."""

    async def create(
        self, template: tasks_pb2.TaskTemplate, inputs: literals_pb2.LiteralMap
    ) -> bytes:
        """Start the task; return its ``resource_meta``."""

    async def get(
        self, template: tasks_pb2.TaskTemplate, resource_meta: bytes
    ) -> agent_pb2.Resource:
        """The task's current ``Resource``."""

    async def delete(self, template: tasks_pb2.TaskTemplate, resource_meta: bytes) -> None:
        """Cancel the task."""

    async def do(
        self, template: tasks_pb2.TaskTemplate, inputs: literals_pb2.LiteralMap
    ) -> agent_pb2.Resource:
        """Run a sync agent; return its final ``Resource``."""

    async def close(self) -> None:
        """Release connections."""


def task_category(template: tasks_pb2.TaskTemplate) -> agent_pb2.TaskCategory:
    """The ``TaskCategory`` of ``template`` (its type and version)."""
    return agent_pb2.TaskCategory(name=template.type, version=template.task_type_version)


def output_prefix_for(template: tasks_pb2.TaskTemplate, base: str = DEFAULT_OUTPUT_PREFIX) -> str:
    """The ``output_prefix`` sent with ``template``'s calls: ``base`` plus the task's name
    (its template id, else its type)."""
    return f"{base.rstrip('/')}/{template.id.name or template.type}"


class LocalBackend:
    """Calls a ``Dispatcher`` in this process; ``output_prefix`` is the base of every task's
    ``output_prefix`` (``output_prefix_for``)."""

    def __init__(
        self, dispatcher: Dispatcher, *, output_prefix: str = DEFAULT_OUTPUT_PREFIX
    ) -> None:
        self.dispatcher = dispatcher
        self.output_prefix = output_prefix

    @classmethod
    def for_agents(
        cls, agents: Iterable[AgentBase], *, output_prefix: str = DEFAULT_OUTPUT_PREFIX
    ) -> LocalBackend:
        """A backend serving exactly ``agents``."""
        from agenthost.core.dispatcher import Dispatcher

        return cls(Dispatcher(agents), output_prefix=output_prefix)

    async def is_sync(self, template: tasks_pb2.TaskTemplate) -> bool:
        """See ``Backend``."""
        return self.dispatcher.resolve_template(template).is_sync

    async def create(
        self, template: tasks_pb2.TaskTemplate, inputs: literals_pb2.LiteralMap
    ) -> bytes:
        """See ``Backend``."""
        return await self.dispatcher.create(
            template, inputs, output_prefix=output_prefix_for(template, self.output_prefix)
        )

    async def get(
        self, template: tasks_pb2.TaskTemplate, resource_meta: bytes
    ) -> agent_pb2.Resource:
        """See ``Backend``."""
        return await self.dispatcher.get(
            template.type,
            task_category(template),
            resource_meta,
            output_prefix=output_prefix_for(template, self.output_prefix),
        )

    async def delete(self, template: tasks_pb2.TaskTemplate, resource_meta: bytes) -> None:
        """See ``Backend``."""
        await self.dispatcher.delete(template.type, task_category(template), resource_meta)

    async def do(
        self, template: tasks_pb2.TaskTemplate, inputs: literals_pb2.LiteralMap
    ) -> agent_pb2.Resource:
        """See ``Backend``."""
        return await self.dispatcher.do(
            template, inputs, output_prefix=output_prefix_for(template, self.output_prefix)
        )

    async def close(self) -> None:
        """Nothing to release."""
