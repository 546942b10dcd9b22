"""The core's agents as flyteidl v1 messages."""

from __future__ import annotations

from flyteidl.admin import agent_pb2

from agenthost.core.agents import AgentEntry


def agent_proto(entry: AgentEntry) -> agent_pb2.Agent:
    """The flyteidl ``Agent`` description (both the deprecated type list and categories)."""
    category = entry.category
    return agent_pb2.Agent(
        name=entry.name,
        is_sync=entry.is_sync,
        supported_task_types=[category.name],
        supported_task_categories=[
            agent_pb2.TaskCategory(name=category.name, version=category.version)
        ],
    )
