"""Errors the Snowflake agent raises; each message is short and never holds a secret."""

from __future__ import annotations

try:  # agenthost answers these with UNAVAILABLE / FAILED_PRECONDITION and keeps the message
    from agenthost import BackendUnavailableError as _Unavailable  # type: ignore[attr-defined]
    from agenthost import MisconfiguredError as _Misconfigured  # type: ignore[attr-defined]
except ImportError:  # an agenthost without them answers INTERNAL with a correlation id
    from agenthost import AgentHostError as _Misconfigured
    from agenthost import AgentHostError as _Unavailable


class SnowflakeConfigurationError(_Misconfigured):  # type: ignore[misc,valid-type]
    """The host is not set up to reach Snowflake (no private key, a key that does not parse,
    credentials Snowflake refuses, a bad endpoint setting). Fix the deployment, not the task."""


class SnowflakeUnavailableError(_Unavailable):  # type: ignore[misc,valid-type]
    """Snowflake could not be reached, or answered with a transient error; retrying may
    succeed."""
