"""The core: the served agents and the operations of the agent API over them, for every
protocol (``agenthost.protocols`` adapts it to the wire; ``agenthost run`` calls it directly).

- ``agents``: the agents, inspected once, and the one way to find the agent for a task type;
- ``calls``: the call contract and how an agent method is called (keywords, per-agent limits,
  what agent errors become, the shapes ``get_logs`` may return);
- ``inputs``: the check every task's inputs pass before an agent sees them;
- ``results``: what agents return, checked and converted;
- ``sync_results``: the self-contained ``resource_meta`` of a sync agent run through
  ``CreateTask``;
- ``dispatcher``: ``Dispatcher``, create/get/delete/do/metrics/logs/aclose.

The core imports the SDK (``agenthost.agent``, ``resource``, ``literals``, ...) and never a
protocol adapter, the server, the CLI or the plugin loader (``host/tests/test_layering.py``).
"""

from agenthost.core.agents import AgentEntry, AgentIndex, CategoryLike
from agenthost.core.calls import (
    CALL_CONTRACT,
    AgentCallError,
    NotImplementedByAgentError,
    WrongAgentKindError,
)
from agenthost.core.dispatcher import Dispatcher

__all__ = [
    "CALL_CONTRACT",
    "AgentCallError",
    "AgentEntry",
    "AgentIndex",
    "CategoryLike",
    "Dispatcher",
    "NotImplementedByAgentError",
    "WrongAgentKindError",
]
