"""agent-openai: agenthost agents for OpenAI chat completions (task type ``chatgpt``) and the
OpenAI Batch API (task type ``openai-batch``), accepting flytekit's ``ChatGPTTask`` and
``BatchEndpointTask`` templates unchanged.

Importing this package is cheap: the ``openai`` client library is imported on first use.
"""

from agent_openai.version import __version__

__all__ = ["__version__"]
