"""The former home of the plugin tables: see ``agenthost.loading.tables``."""

from agenthost.loading.tables import format_table, plugins_table

__all__ = ["format_table", "plugins_table"]
