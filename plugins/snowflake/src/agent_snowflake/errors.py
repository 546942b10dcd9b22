"""Errors the Snowflake agent raises; each message is short and never holds a secret."""

from __future__ import annotations

from agenthost import BackendUnavailableError, MisconfiguredError


class SnowflakeConfigurationError(MisconfiguredError):
    """The host is not set up to reach Snowflake (no private key, a key that does not parse,
    credentials Snowflake refuses, a bad endpoint setting). Fix the deployment, not the task
    (gRPC FAILED_PRECONDITION with this message)."""


class SnowflakeUnavailableError(BackendUnavailableError):
    """Snowflake could not be reached, or answered with a transient error; retrying may
    succeed (gRPC UNAVAILABLE with this message)."""
