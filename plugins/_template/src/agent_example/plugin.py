"""The entry point of agent-example (group ``flyte.agents``): hands its agents to agenthost."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import agenthost

from agent_example.agent import ExampleAgent

AGENTHOST_PLUGIN_API = ">=1.1,<2"
"""The agenthost plugin-API versions this plugin works with (checked when the host loads it)."""


@agenthost.hookimpl
def register_agents(register: Callable[[Any], None]) -> None:
    """Register one instance of each agent this distribution provides."""
    register(ExampleAgent())
