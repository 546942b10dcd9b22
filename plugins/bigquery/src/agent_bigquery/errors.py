"""Errors the BigQuery agent raises; each message is short and never holds a secret."""

from __future__ import annotations

from agenthost import BackendUnavailableError, MisconfiguredError


class BigQueryConfigurationError(MisconfiguredError):
    """The host is not set up to reach BigQuery (no usable credentials, a bad emulator address,
    an invalid service-account secret). Fix the deployment, not the task (gRPC
    FAILED_PRECONDITION with this message)."""


class BigQueryUnavailableError(BackendUnavailableError):
    """BigQuery could not be reached or answered with a transient error; retrying may succeed
    (gRPC UNAVAILABLE with this message)."""
