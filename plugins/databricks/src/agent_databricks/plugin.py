"""The entry point of agent-databricks (group ``flyte.agents``): hands its agents to agenthost."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import agenthost
from agent_databricks.agent import DATABRICKS_TASK_TYPE, SPARK_TASK_TYPE, DatabricksAgent
from agent_databricks.clients import DatabricksClient

AGENTHOST_PLUGIN_API = ">=1.1,<2"
"""The agenthost plugin-API versions this plugin works with (checked when the host loads it)."""


@agenthost.hookimpl
def register_agents(register: Callable[[Any], None]) -> None:
    """Register the ``spark`` and ``databricks`` agents, sharing one HTTP client."""
    client = DatabricksClient()
    register(DatabricksAgent(SPARK_TASK_TYPE, client))
    register(DatabricksAgent(DATABRICKS_TASK_TYPE, client))
