"""The version of agent-snowflake."""

__version__ = "0.1.0"
