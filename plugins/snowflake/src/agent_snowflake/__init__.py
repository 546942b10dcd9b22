"""agent-snowflake: an agenthost async agent for Flyte tasks of type ``snowflake``.

Importing this package is cheap on purpose: ``snowflake.connector`` is imported on the first
connection the agent opens, never when the host loads the plugin.
"""

from agent_snowflake.version import __version__

__all__ = ["__version__"]
