"""Errors the Databricks agent raises; each message is short and never holds a secret."""

from __future__ import annotations

from agenthost import AgentHostError


class DatabricksConfigurationError(AgentHostError):
    """The host is not set up to reach Databricks (no instance configured, no credentials, a
    malformed allow-list entry). Fix the deployment, not the task."""


class DatabricksUnavailableError(AgentHostError):
    """Databricks could not be reached or answered with a transient error; retrying may
    succeed."""
