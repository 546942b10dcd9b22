"""The old import path of the v1 adapter's names (``agenthost.protocols.v1.services``),
re-exported."""

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
