"""The ``example`` agent through its whole lifecycle: in-process, then served by a real
``agenthost serve`` (the ``agent_server`` fixture in conftest.py)."""

from __future__ import annotations

from agenthost.testing import RunningServer, make_template, run_lifecycle, run_on_server
from flyteidl.core.tasks_pb2 import TaskTemplate

from agent_example.agent import TASK_TYPE, ExampleAgent


def template(duration: float = 0.0) -> TaskTemplate:
    """A task template as flytekit would serialize it for this task type."""
    return make_template(
        TASK_TYPE,
        inputs={"name": str},
        outputs={"greeting": str},
        custom={"duration_seconds": duration},
    )


def test_job_succeeds_with_a_greeting() -> None:
    result = run_lifecycle(ExampleAgent(), template(), {"name": "Flyte"})
    assert result.phase_name == "SUCCEEDED", result.message
    assert result.outputs == {"greeting": "Hello, Flyte!"}


def test_job_reports_running_until_it_is_done() -> None:
    result = run_lifecycle(ExampleAgent(), template(duration=0.2), {"name": "Flyte"})
    phases = [status.phase_name for status in result.statuses]
    assert phases[0] == "RUNNING"
    assert phases[-1] == "SUCCEEDED"


def test_served_by_agenthost(agent_server: RunningServer) -> None:
    result = run_on_server(agent_server, template(), {"name": "server"})
    assert result.phase_name == "SUCCEEDED", result.message
    assert result.outputs == {"greeting": "Hello, server!"}
