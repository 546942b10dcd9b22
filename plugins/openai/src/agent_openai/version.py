"""The version of the ``agent-openai`` distribution."""

__version__ = "0.1.0"
