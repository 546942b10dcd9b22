"""The entry point of agent-bigquery (group ``flyte.agents``): hands its agent to agenthost."""

from __future__ import annotations

from collections.abc import Callable

import agenthost
from agent_bigquery.agent import BigQueryAgent
from agent_bigquery.clients import preload_client_library
from agenthost import AgentBase

AGENTHOST_PLUGIN_API = ">=1.1,<2"
"""The agenthost plugin-API versions this plugin works with (checked when the host loads it)."""


@agenthost.hookimpl
def register_agents(register: Callable[[AgentBase], None]) -> None:
    """Register the ``bigquery_query_job_task`` agent; with ``AGENT_BIGQUERY_PRELOAD=1``, start
    importing the client library in the background."""
    register(BigQueryAgent())
    preload_client_library()
