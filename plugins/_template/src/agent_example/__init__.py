"""agent-example: an agenthost async agent for Flyte tasks of type ``example``.

Importing this package is cheap on purpose: the host imports every plugin when it starts.
Import heavy client libraries inside the agent's methods (on first use), not here.
"""

from agent_example.version import __version__

__all__ = ["__version__"]
