"""The version of the ``agenthost`` distribution and of its plugin API."""

__version__ = "0.1.0"

PLUGIN_API_VERSION = "1.1"
"""The host's plugin API version; plugins declare the range they support (docs/plugins.md)."""
