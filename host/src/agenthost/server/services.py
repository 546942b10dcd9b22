"""Moved to ``agenthost.protocols.v1.services`` (the v1 protocol adapter); this path keeps
working."""

from agenthost.protocols.v1.services import (
    ASYNC_SERVICE,
    METADATA_SERVICE,
    OPERATIONS,
    SERVICE_NAMES,
    SYNC_SERVICE,
    UNKNOWN_TASK_TYPE,
    AgentServices,
    parse,
)

__all__ = [
    "ASYNC_SERVICE",
    "METADATA_SERVICE",
    "OPERATIONS",
    "SERVICE_NAMES",
    "SYNC_SERVICE",
    "UNKNOWN_TASK_TYPE",
    "AgentServices",
    "parse",
]
