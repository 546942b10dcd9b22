"""The old import path of the plugin tables, re-exported: see ``agenthost.loading.tables``."""

from agenthost.loading.tables import format_table, plugins_table

__all__ = ["format_table", "plugins_table"]
