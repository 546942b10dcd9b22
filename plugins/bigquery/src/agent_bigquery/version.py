"""Version of the agent-bigquery distribution."""

__version__ = "0.1.0"
