"""The old import path of the plugin loader, re-exported: see ``agenthost.loading``."""

from agenthost.agent import AgentBase
from agenthost.loading.checks import API_ATTRIBUTE
from agenthost.loading.discovery import ENTRY_POINT_GROUP, Candidate, discover
from agenthost.loading.loader import load_plugins, make_plugin_manager
from agenthost.loading.report import LoadResult, PluginLoadError, PluginReport, Status


def agent_kind(agent: AgentBase) -> str:
    """``"sensor"``, ``"sync"`` or ``"async"`` (``agent.kind``)."""
    return agent.kind


__all__ = [
    "API_ATTRIBUTE",
    "ENTRY_POINT_GROUP",
    "Candidate",
    "LoadResult",
    "PluginLoadError",
    "PluginReport",
    "Status",
    "agent_kind",
    "discover",
    "load_plugins",
    "make_plugin_manager",
]
