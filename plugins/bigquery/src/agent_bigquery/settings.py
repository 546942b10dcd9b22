"""The deployment's BigQuery settings that are not credentials (those are in ``clients``),
read from the environment."""

from __future__ import annotations

from agenthost import number_from_env

RETRY_DEADLINE_S = 8.0
"""How long one agent call keeps retrying transient BigQuery errors before giving up: within
propeller's default 10 s deadline for agent calls (propeller polls ``get`` again anyway)."""

DEADLINE_ENV = "AGENT_BIGQUERY_RETRY_DEADLINE_SECONDS"
"""Overrides ``RETRY_DEADLINE_S`` (read on every call); requests time out within it too."""

PRELOAD_ENV = "AGENT_BIGQUERY_PRELOAD"
"""Set to ``1`` to import ``google.cloud.bigquery`` in a background thread at plugin load, so
the first task does not pay for it (off by default: it competes with the host's start-up)."""


def retry_deadline() -> float:
    """``$AGENT_BIGQUERY_RETRY_DEADLINE_SECONDS``, else ``RETRY_DEADLINE_S``."""
    return number_from_env(DEADLINE_ENV, RETRY_DEADLINE_S, minimum=0.001)
