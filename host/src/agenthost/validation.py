"""The old import path of the built-in agent validators, re-exported: see
``agenthost.loading.validation``."""

from agenthost.core.calls import CALL_CONTRACT
from agenthost.loading.validation import TASK_TYPE_PATTERN, validate_agent

__all__ = ["CALL_CONTRACT", "TASK_TYPE_PATTERN", "validate_agent"]
