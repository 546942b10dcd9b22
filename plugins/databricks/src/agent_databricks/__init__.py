"""agent-databricks: an agenthost async agent that runs Flyte ``spark`` and ``databricks``
tasks as Databricks one-time runs (Jobs API 2.1).

Importing this package is cheap on purpose: the host imports every plugin when it starts.
The HTTP client (``aiohttp``) is imported on first use.
"""

from agent_databricks.version import __version__

__all__ = ["__version__"]
