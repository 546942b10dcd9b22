"""The version of agent-example."""

__version__ = "0.1.0"
