"""``AgentRegistry``: where agents are registered at import time, seed-style."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from agenthost.agent import AgentBase


class AgentRegistry:
    """Collects agents registered with ``AgentRegistry.register(agent)`` while a plugin module
    is imported. The plugin loader drains it after each entry point, so every agent is
    attributed to the distribution that registered it.

    Each registration also remembers the module that made it, so a plugin module that was
    already imported before the loader ran (a test import, another plugin importing it) is
    still reported with its agents (``registered_by``).
    """

    _pending: ClassVar[list[tuple[str, AgentBase]]] = []
    _history: ClassVar[list[tuple[str, AgentBase]]] = []

    @classmethod
    def register(cls, agent: AgentBase) -> None:
        """Register ``agent``; call it at import time of your plugin module."""
        caller = sys._getframe(1).f_globals.get("__name__") or type(agent).__module__
        cls._pending.append((caller, agent))
        cls._history.append((caller, agent))

    @classmethod
    def drain(cls) -> list[AgentBase]:
        """Return and forget the agents registered since the last drain."""
        return [agent for _module, agent in cls.drain_with_modules()]

    @classmethod
    def drain_with_modules(cls) -> list[tuple[str, AgentBase]]:
        """Like ``drain``, with the name of the module that registered each agent."""
        pending, cls._pending = cls._pending, []
        return pending

    @classmethod
    def registered_by(cls, module: str) -> list[tuple[str, AgentBase]]:
        """Every agent ever registered by ``module`` or one of its submodules, with the name
        of the module that registered it, in registration order."""
        prefix = module + "."
        return [(m, a) for m, a in cls._history if m == module or m.startswith(prefix)]
