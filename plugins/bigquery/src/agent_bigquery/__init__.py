"""agent-bigquery: a Flyte async agent that runs BigQuery query jobs under agenthost.

Importing this package is cheap; the agent is registered by ``agent_bigquery.agent``.
"""

from agent_bigquery.version import __version__

__all__ = ["__version__"]
