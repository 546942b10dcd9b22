"""Errors the Databricks agent raises; each message is short and never holds a secret."""

from __future__ import annotations

from agenthost import BackendUnavailableError, MisconfiguredError


class DatabricksConfigurationError(MisconfiguredError):
    """The host is not set up to reach Databricks (no instance configured, no credentials, a
    malformed allow-list entry, credentials Databricks refuses): gRPC ``FAILED_PRECONDITION``.
    Fix the deployment, not the task."""


class DatabricksUnavailableError(BackendUnavailableError):
    """Databricks could not be reached, did not answer in time or answered with a transient
    error (429, 5xx): gRPC ``UNAVAILABLE``; retrying may succeed."""
