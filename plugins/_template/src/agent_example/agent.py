"""The ``example`` agent: an asynchronous agent for jobs that run somewhere else.

``create`` starts a job and returns a small JSON handle (``ExampleAgentMeta``); propeller
stores it and calls ``get`` with it, on any replica, until the phase is terminal, and
``delete`` to cancel. This example pretends to run a job that greets ``name`` once
``custom["duration_seconds"]`` have passed: replace the marked lines with calls to your
platform's client (imported inside the methods, so that loading the plugin stays cheap).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agenthost import AsyncAgentBase, Resource, ResourceMeta, custom_of, input_values

if TYPE_CHECKING:
    from flyteidl.core.literals_pb2 import LiteralMap
    from flyteidl.core.tasks_pb2 import TaskTemplate

TASK_TYPE = "example"
"""The Flyte task type this agent serves (``TaskTemplate.type``)."""


@dataclass
class ExampleAgentMeta(ResourceMeta):
    """What ``get`` and ``delete`` need to find the job again: JSON values only."""

    job_id: str
    greeting: str
    ready_at: float


class ExampleAgent(AsyncAgentBase):
    """Starts a (pretend) job that greets the ``name`` input."""

    def __init__(self) -> None:
        super().__init__(TASK_TYPE, ExampleAgentMeta)

    async def create(
        self, task_template: TaskTemplate, inputs: LiteralMap | None = None, **kwargs: Any
    ) -> ExampleAgentMeta:
        """Start the job and return its handle."""
        name = input_values(task_template, inputs)["name"]
        duration = float(custom_of(task_template).get("duration_seconds", 0))
        # Replace: submit the job to your platform and keep the id it returns.
        return ExampleAgentMeta(
            job_id=uuid.uuid4().hex, greeting=f"Hello, {name}!", ready_at=time.time() + duration
        )

    async def get(self, resource_meta: ExampleAgentMeta, **kwargs: Any) -> Resource:
        """Report the job's phase; its outputs once it succeeded."""
        # Replace: ask your platform for the job's state (agenthost.phase_from_state helps).
        if time.time() < resource_meta.ready_at:
            return Resource.running(f"job {resource_meta.job_id} is running")
        return Resource.succeeded(
            {"greeting": resource_meta.greeting}, message=f"job {resource_meta.job_id} done"
        )

    async def delete(self, resource_meta: ExampleAgentMeta, **kwargs: Any) -> None:
        """Cancel the job. Must succeed for jobs that already finished or never existed."""
        # Replace: cancel the job on your platform.
