"""The entry point of agent-snowflake (group ``flyte.agents``): hands its agent to agenthost."""

from __future__ import annotations

from collections.abc import Callable

import agenthost
from agent_snowflake.agent import SnowflakeAgent
from agenthost import AgentBase

AGENTHOST_PLUGIN_API = ">=1.1,<2"
"""The agenthost plugin-API versions this plugin works with (checked when the host loads it)."""


@agenthost.hookimpl
def register_agents(register: Callable[[AgentBase], None]) -> None:
    """Register the ``snowflake`` async agent."""
    register(SnowflakeAgent())
