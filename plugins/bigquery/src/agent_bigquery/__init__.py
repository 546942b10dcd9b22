"""agent-bigquery: a Flyte async agent that runs BigQuery query jobs under agenthost.

Importing this package is cheap on purpose: the host imports every plugin when it starts.
``google-cloud-bigquery`` is imported on first use. ``agent_bigquery.plugin`` is the entry point.
"""

from agent_bigquery.version import __version__

__all__ = ["__version__"]
