"""A seed-style plugin (``AgentRegistry.register`` at import) that ``fake_plugins.ops`` imports
before the plugin loader imports it through ``--modules``."""

from __future__ import annotations

from typing import Any

from agenthost import AgentRegistry, Resource, SyncAgentBase

AGENTHOST_PLUGIN_API = ">=1.0,<2"


class SeedAgent(SyncAgentBase):
    """Sync agent that answers ``{"seeded": True}``."""

    def __init__(self) -> None:
        super().__init__("seeded_sync", name="SeedAgent")

    async def do(self, task_template: Any, **kwargs: Any) -> Resource:
        return Resource.succeeded({"seeded": True})


AgentRegistry.register(SeedAgent())
