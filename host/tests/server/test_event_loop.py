"""``--event-loop``: the server runs on the loop it is told (uvloop where installed, by default)
and serves the same on both, blocking agents and drain included."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from flyteidl.admin import agent_pb2
from flyteidl.core.execution_pb2 import TaskExecution
from server_test_kit import test_server

from agenthost.literals import literal_map_to_python
from agenthost.server.event_loop import chosen_event_loop, event_loop_problem
from agenthost.testing import make_inputs, make_template

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="reads the server's memory map from /proc"
)


def runs_uvloop(pid: int) -> bool:
    """Whether process ``pid`` has uvloop's extension module mapped."""
    return "uvloop/loop" in Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.parametrize("choice", ["auto", "uvloop", "asyncio"])
def test_the_server_serves_on_the_event_loop_it_is_told(markers: Path, choice: str) -> None:
    with test_server(markers, "--event-loop", choice) as server:
        assert runs_uvloop(server.process.pid) == (chosen_event_loop(choice) == "uvloop")
        fast = make_template("fast_async", inputs={"x": int}, outputs={"y": int})
        request = agent_pb2.CreateTaskRequest(template=fast, inputs=make_inputs(fast, {"x": 4}))
        meta = server.async_stub.CreateTask(request, timeout=10).resource_meta
        got = server.async_stub.GetTask(
            agent_pb2.GetTaskRequest(task_type="fast_async", resource_meta=meta), timeout=10
        )
        assert literal_map_to_python(got.resource.outputs) == {"y": 8}
        sensor = make_template("test_path_sensor", inputs={"path": str})
        ready = markers / "ready"
        ready.touch()  # the sensor's poke is blocking (def): it runs in the thread pool
        request = agent_pb2.CreateTaskRequest(
            template=sensor, inputs=make_inputs(sensor, {"path": str(ready)})
        )
        meta = server.async_stub.CreateTask(request, timeout=10).resource_meta
        got = server.async_stub.GetTask(
            agent_pb2.GetTaskRequest(task_type="test_path_sensor", resource_meta=meta), timeout=10
        )
        assert got.resource.phase == TaskExecution.SUCCEEDED
        assert server.stop() == 0  # SIGTERM: drained and exited cleanly


def test_uvloop_is_installed_with_agenthost_here() -> None:
    assert chosen_event_loop("auto") == "uvloop"
    assert event_loop_problem("uvloop") is None


def test_an_unknown_event_loop_is_named() -> None:
    assert event_loop_problem("trio") == (
        "--event-loop must be one of auto, uvloop, asyncio (got 'trio')"
    )
