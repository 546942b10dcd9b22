"""Loading: find plugins, import each in isolation, take their agents, check them and report
what happened to every one.

- ``discovery``: the ``flyte.agents`` entry points and the allow/block lists;
- ``loader``: ``load_plugins`` and the four ways a plugin hands over agents;
- ``checks``: plugin-API range, the ``validate_agent`` hooks, duplicate task types, the
  ``SensorRouter``;
- ``validation``: the built-in ``validate_agent`` implementation;
- ``report``: ``PluginReport``/``LoadResult`` and their JSON shape;
- ``tables``: the plain-text tables of ``agenthost plugins`` and ``serve``'s banner.

Loading imports the SDK and the core's call contract, never the server, the CLI or a
protocol adapter (``host/tests/test_layering.py``). Plugins register agents at import time
through ``agenthost.registry.AgentRegistry``, which is SDK (plugin authors call it).
"""

from agenthost.loading.discovery import ENTRY_POINT_GROUP, discover
from agenthost.loading.loader import load_plugins, make_plugin_manager
from agenthost.loading.report import LoadResult, PluginLoadError, PluginReport

__all__ = [
    "ENTRY_POINT_GROUP",
    "LoadResult",
    "PluginLoadError",
    "PluginReport",
    "discover",
    "load_plugins",
    "make_plugin_manager",
]
