"""The agenthost entry point (group ``flyte.agents``, name ``openai``): registers both agents."""

from __future__ import annotations

from collections.abc import Callable

import agenthost
from agent_openai.batch import BatchEndpointAgent
from agent_openai.chat import ChatGPTAgent
from agenthost import AgentBase

AGENTHOST_PLUGIN_API = ">=1.1,<2"
"""The agenthost plugin-API versions this plugin supports."""


@agenthost.hookimpl
def register_agents(register: Callable[[AgentBase], None]) -> None:
    """Hand the ``chatgpt`` (sync) and ``openai-batch`` (async) agents to the host."""
    register(ChatGPTAgent())
    register(BatchEndpointAgent())
