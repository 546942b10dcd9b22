"""``AgentRegistry``: where agents are registered at import time, seed-style."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from agenthost.agent import AgentBase


class AgentRegistry:
    """Collects agents registered with ``AgentRegistry.register(agent)`` while a plugin module
    is imported. The plugin loader drains it after each entry point, so every agent is
    attributed to the distribution that registered it."""

    _pending: ClassVar[list[AgentBase]] = []

    @classmethod
    def register(cls, agent: AgentBase) -> None:
        """Register ``agent``; call it at import time of your plugin module."""
        cls._pending.append(agent)

    @classmethod
    def drain(cls) -> list[AgentBase]:
        """Return and forget the agents registered since the last drain."""
        pending, cls._pending = cls._pending, []
        return pending
