"""Errors the Databricks agent raises; each message is short and never holds a secret.

With an agenthost that has ``BackendUnavailableError`` and ``MisconfiguredError``, they are
their subclasses, so the server answers ``UNAVAILABLE`` and ``FAILED_PRECONDITION`` with the
message; older hosts answer ``INTERNAL`` with the error's name only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import agenthost

if TYPE_CHECKING:
    _Unavailable = agenthost.AgentHostError
    _Misconfigured = agenthost.AgentHostError
else:
    _Unavailable = getattr(agenthost, "BackendUnavailableError", agenthost.AgentHostError)
    _Misconfigured = getattr(agenthost, "MisconfiguredError", agenthost.AgentHostError)


class DatabricksConfigurationError(_Misconfigured):
    """The host is not set up to reach Databricks (no instance configured, no credentials, a
    malformed allow-list entry, credentials Databricks refuses). Fix the deployment, not the
    task."""


class DatabricksUnavailableError(_Unavailable):
    """Databricks could not be reached, did not answer in time or answered with a transient
    error (429, 5xx); retrying may succeed."""
