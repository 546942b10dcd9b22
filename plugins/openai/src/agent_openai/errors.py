"""Errors the OpenAI agents raise; each message is short and never holds the API key."""

from __future__ import annotations

from agenthost import MisconfiguredError


class ConfigurationError(Exception):
    """The template is misconfigured; the task fails with this message."""


class DeploymentError(MisconfiguredError):
    """The host's settings for OpenAI are wrong or missing (gRPC FAILED_PRECONDITION)."""


class BatchCancelError(RuntimeError):
    """The batch could not be cancelled (bad key, API down): propeller will try again. The
    message is the scrubbed API error; the host reports it as the delete call's failure."""
