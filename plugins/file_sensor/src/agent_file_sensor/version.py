"""Version of agent-file-sensor."""

__version__ = "0.1.0"
