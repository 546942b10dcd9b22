"""agenthost: a thin, fast, safe host that serves Flyte agents over gRPC.

This module is the SDK plugin authors import. It is light on purpose: importing it does not
import the gRPC server, the CLI or any plugin.
"""

from agenthost.agent import AgentBase, AsyncAgentBase, SyncAgentBase, TaskCategory
from agenthost.connection import Connection, current_connection
from agenthost.errors import (
    AgentHostError,
    BackendUnavailableError,
    InvalidRequestError,
    MisconfiguredError,
    ResourceMetaError,
    UnknownTaskTypeError,
    UnsupportedOperationError,
)
from agenthost.hookspecs import hookimpl
from agenthost.phases import Phase, is_terminal_phase, phase_from_state
from agenthost.registry import AgentRegistry
from agenthost.resource import Resource, ResourceMeta
from agenthost.secrets import SecretNotFoundError, get_secret
from agenthost.sensor import BaseSensor, SensorMetadata
from agenthost.settings import number_from_env
from agenthost.template import custom_of, input_values
from agenthost.version import PLUGIN_API_VERSION, __version__

__all__ = [
    "PLUGIN_API_VERSION",
    "AgentBase",
    "AgentHostError",
    "AgentRegistry",
    "AsyncAgentBase",
    "BackendUnavailableError",
    "BaseSensor",
    "Connection",
    "InvalidRequestError",
    "MisconfiguredError",
    "Phase",
    "Resource",
    "ResourceMeta",
    "ResourceMetaError",
    "SecretNotFoundError",
    "SensorMetadata",
    "SyncAgentBase",
    "TaskCategory",
    "UnknownTaskTypeError",
    "UnsupportedOperationError",
    "__version__",
    "current_connection",
    "custom_of",
    "get_secret",
    "hookimpl",
    "input_values",
    "is_terminal_phase",
    "number_from_env",
    "phase_from_state",
]
