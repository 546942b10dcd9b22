"""Test agents for the propeller-contract tests, loaded with ``agenthost serve --modules
fake_plugins.sized``: they return a string output of the size the task asks for, so the tests can
see what the host does with outputs around propeller's 4 MiB gRPC receive limit.

* ``compat-sized-output`` (sync): input ``size: int``; output ``text``: ``size`` bytes.
* ``compat-sized-output-async`` (async): the same, reported by ``get``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flyteidl.core import literals_pb2

from agenthost import (
    AgentRegistry,
    AsyncAgentBase,
    Resource,
    ResourceMeta,
    SyncAgentBase,
    input_values,
)

SYNC_TASK_TYPE = "compat-sized-output"
ASYNC_TASK_TYPE = "compat-sized-output-async"


def _sized_outputs(size: int) -> literals_pb2.LiteralMap:
    outputs = literals_pb2.LiteralMap()
    outputs.literals["text"].scalar.primitive.string_value = "x" * size
    return outputs


class SizedOutputAgent(SyncAgentBase):
    """Returns ``size`` bytes of text as output ``text``."""

    def __init__(self) -> None:
        super().__init__(SYNC_TASK_TYPE)

    def do(self, task_template: Any, inputs: Any = None, **kwargs: Any) -> Resource:
        """Succeed with the requested output."""
        size = int(input_values(task_template, inputs)["size"])
        return Resource.succeeded(_sized_outputs(size))


@dataclass
class SizeMeta(ResourceMeta):
    """How large an output ``get`` returns."""

    size: int


class AsyncSizedOutputAgent(AsyncAgentBase):
    """``create`` records the size; ``get`` succeeds with that many bytes as ``text``."""

    def __init__(self) -> None:
        super().__init__(ASYNC_TASK_TYPE, SizeMeta)

    def create(self, task_template: Any, inputs: Any = None, **kwargs: Any) -> SizeMeta:
        """Remember the requested size."""
        return SizeMeta(size=int(input_values(task_template, inputs)["size"]))

    def get(self, resource_meta: SizeMeta, **kwargs: Any) -> Resource:
        """Succeed with the requested output."""
        return Resource.succeeded(_sized_outputs(resource_meta.size))

    def delete(self, resource_meta: SizeMeta, **kwargs: Any) -> None:
        """Nothing to cancel."""


AgentRegistry.register(SizedOutputAgent())
AgentRegistry.register(AsyncSizedOutputAgent())
