"""The version of agent-databricks."""

__version__ = "0.1.0"
