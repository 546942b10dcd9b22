"""agenthost: a thin, fast, safe host that serves Flyte agents over gRPC.

This module is the SDK plugin authors import. It is light on purpose: importing it does not
import the gRPC server, the CLI or any plugin, and each public name is imported from its module
on first use, so ``import agenthost`` alone (as pytest does for the testing kit's plugin, in
every project that has agenthost installed) does not import flyteidl either.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agenthost.lazy import lazy_front

if TYPE_CHECKING:
    from agenthost.agent import AgentBase as AgentBase
    from agenthost.agent import AsyncAgentBase as AsyncAgentBase
    from agenthost.agent import SyncAgentBase as SyncAgentBase
    from agenthost.agent import TaskCategory as TaskCategory
    from agenthost.connection import Connection as Connection
    from agenthost.connection import current_connection as current_connection
    from agenthost.errors import AgentHostError as AgentHostError
    from agenthost.errors import BackendUnavailableError as BackendUnavailableError
    from agenthost.errors import InvalidRequestError as InvalidRequestError
    from agenthost.errors import MisconfiguredError as MisconfiguredError
    from agenthost.errors import ResourceMetaError as ResourceMetaError
    from agenthost.errors import UnknownTaskTypeError as UnknownTaskTypeError
    from agenthost.errors import UnsupportedOperationError as UnsupportedOperationError
    from agenthost.hookspecs import hookimpl as hookimpl
    from agenthost.phases import Phase as Phase
    from agenthost.phases import is_terminal_phase as is_terminal_phase
    from agenthost.phases import phase_from_state as phase_from_state
    from agenthost.registry import AgentRegistry as AgentRegistry
    from agenthost.resource import Resource as Resource
    from agenthost.resource import ResourceMeta as ResourceMeta
    from agenthost.secrets import SecretNotFoundError as SecretNotFoundError
    from agenthost.secrets import get_secret as get_secret
    from agenthost.sensor import BaseSensor as BaseSensor
    from agenthost.sensor import SensorMetadata as SensorMetadata
    from agenthost.settings import number_from_env as number_from_env
    from agenthost.template import custom_of as custom_of
    from agenthost.template import input_values as input_values
    from agenthost.version import PLUGIN_API_VERSION as PLUGIN_API_VERSION
    from agenthost.version import __version__ as __version__

_HOMES = {
    "agenthost.agent": ("AgentBase", "AsyncAgentBase", "SyncAgentBase", "TaskCategory"),
    "agenthost.connection": ("Connection", "current_connection"),
    "agenthost.errors": (
        "AgentHostError", "BackendUnavailableError", "InvalidRequestError", "MisconfiguredError",
        "ResourceMetaError", "UnknownTaskTypeError", "UnsupportedOperationError",
    ),
    "agenthost.hookspecs": ("hookimpl",),
    "agenthost.phases": ("Phase", "is_terminal_phase", "phase_from_state"),
    "agenthost.registry": ("AgentRegistry",),
    "agenthost.resource": ("Resource", "ResourceMeta"),
    "agenthost.secrets": ("SecretNotFoundError", "get_secret"),
    "agenthost.sensor": ("BaseSensor", "SensorMetadata"),
    "agenthost.settings": ("number_from_env",),
    "agenthost.template": ("custom_of", "input_values"),
    "agenthost.version": ("PLUGIN_API_VERSION", "__version__"),
}  # fmt: skip

__all__, __getattr__, __dir__ = lazy_front(__name__, globals(), _HOMES)
