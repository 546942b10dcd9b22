"""The entry point of agent-file-sensor (group ``flyte.agents``): hands its sensor to agenthost."""

from __future__ import annotations

from collections.abc import Callable

import agenthost
from agent_file_sensor.agent import FileSensor
from agenthost import AgentBase

AGENTHOST_PLUGIN_API = ">=1.1,<2"
"""The agenthost plugin-API versions this plugin works with (checked when the host loads it)."""


@agenthost.hookimpl
def register_agents(register: Callable[[AgentBase], None]) -> None:
    """Register the ``file_sensor`` sensor (which also serves flytekit's ``FileSensor``)."""
    register(FileSensor())
