"""The old import path of the core, re-exported: ``agenthost.core`` is the package
(``Dispatcher`` in ``agenthost.core.dispatcher``)."""

from agenthost.core.agents import AgentEntry, CategoryLike
from agenthost.core.calls import (
    AgentCallError,
    NotImplementedByAgentError,
    WrongAgentKindError,
)
from agenthost.core.dispatcher import DEFAULT_CLOSE_TIMEOUT, Dispatcher
from agenthost.core.inputs import check_inputs
from agenthost.core.results import (
    CLIENT_RECEIVE_LIMIT,
    DEFAULT_MAX_RESOURCE_BYTES,
    resource_to_proto,
)
from agenthost.core.sync_results import (
    DEFAULT_MAX_SYNC_META_BYTES,
    SYNC_META_MARKER,
    SyncResultMeta,
)
from agenthost.errors import SUMMARY_LIMIT, summarize

PROPELLER_RECEIVE_LIMIT = CLIENT_RECEIVE_LIMIT
"""The former name of ``agenthost.core.results.CLIENT_RECEIVE_LIMIT``."""

__all__ = [
    "DEFAULT_CLOSE_TIMEOUT",
    "DEFAULT_MAX_RESOURCE_BYTES",
    "DEFAULT_MAX_SYNC_META_BYTES",
    "PROPELLER_RECEIVE_LIMIT",
    "SUMMARY_LIMIT",
    "SYNC_META_MARKER",
    "AgentCallError",
    "AgentEntry",
    "CategoryLike",
    "Dispatcher",
    "NotImplementedByAgentError",
    "SyncResultMeta",
    "WrongAgentKindError",
    "check_inputs",
    "resource_to_proto",
    "summarize",
]
