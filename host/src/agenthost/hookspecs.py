"""The plugin hooks agenthost calls. Plugins implement them with ``@agenthost.hookimpl``.

Two hooks, on purpose: one to hand over agents, one to vet them. Built-in validators are
implementations of ``validate_agent`` too, registered through the same plugin manager, so a
deployment can add its own policies as plugins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from agenthost.agent import AgentBase

PROJECT_NAME = "agenthost"
"""The pluggy project name: hook implementations are marked with ``agenthost.hookimpl``."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Decorator marking a plugin function as an implementation of a hook below."""


@hookspec
def register_agents(register: Callable[[AgentBase], None]) -> None:
    """Hand your agents to the host: call ``register(agent)`` once per agent instance.

    Example::

        @agenthost.hookimpl
        def register_agents(register):
            register(MyQueryAgent())
    """


@hookspec
def validate_agent(agent: AgentBase) -> list[str] | None:
    """Check one agent before it is served; return a list of one-line problems (or None).

    Any problem marks the agent's plugin as failed; the host serves the other plugins.
    Example policy, only serving task types with a company prefix::

        @agenthost.hookimpl
        def validate_agent(agent):
            if not agent.task_type_name.startswith("acme_"):
                return [f"task type {agent.task_type_name!r} lacks the acme_ prefix"]
            return None
    """
