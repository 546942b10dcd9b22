"""Against a real server: blocking work handed to threads by async agent methods (a sensor's
``poke``, a ``get_logs`` iterator) stays within the agent's thread share and its
``--agent-concurrency`` limit; a plugin module imported before the loader is reported with its
agents; dict outputs of a template whose interface declares no outputs are converted untyped."""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flyteidl.admin import agent_pb2
from flyteidl.core import execution_pb2
from server_test_kit import test_server

from agenthost.literals import literal_map_to_python
from agenthost.testing import RunningServer, make_inputs, make_template, wait_for

SHARE = 2
"""Threads one agent may occupy with ``--max-threads 3`` (all but one)."""


@pytest.fixture(scope="module")
def ops_server(markers: Path) -> Iterator[RunningServer]:
    with test_server(
        markers, "--modules", "fake_plugins.ops,fake_plugins.seed", "--max-threads", "3", "--strict"
    ) as running:
        yield running


def _blocking_def_call_answers(server: RunningServer) -> bool:
    """ExecuteTaskSync on ``EchoSyncV2``, whose ``do`` is a blocking ``def`` (a pool thread)."""
    template = make_template("echo_sync", version=2, outputs={"out": str})
    requests = iter(
        [
            agent_pb2.ExecuteTaskSyncRequest(
                header=agent_pb2.CreateRequestHeader(template=template)
            ),
            agent_pb2.ExecuteTaskSyncRequest(inputs=make_inputs(template, {})),
        ]
    )
    (response,) = server.sync_stub.ExecuteTaskSync(requests, timeout=5)
    return bool(response.header.resource.phase == execution_pb2.TaskExecution.SUCCEEDED)


def _started(markers: Path, prefix: str, tag: str = "") -> int:
    return len(list(markers.glob(f"{prefix}-{tag}*")))


def test_blocking_pokes_cannot_starve_other_agents(
    ops_server: RunningServer, markers: Path, tmp_path: Path
) -> None:
    release = tmp_path / "release-pokes"
    template = make_template("blocking_poke_sensor", inputs={"release": str, "tag": str})
    metas = [
        ops_server.async_stub.CreateTask(
            agent_pb2.CreateTaskRequest(
                template=template,
                inputs=make_inputs(template, {"release": str(release), "tag": f"p{i}"}),
            ),
            timeout=10,
        ).resource_meta
        for i in range(SHARE + 2)
    ]
    with concurrent.futures.ThreadPoolExecutor(len(metas)) as pool:
        polls = [
            pool.submit(
                ops_server.async_stub.GetTask,
                agent_pb2.GetTaskRequest(task_type="blocking_poke_sensor", resource_meta=meta),
                timeout=60,
            )
            for meta in metas
        ]
        wait_for(lambda: _started(markers, "poke") >= SHARE, timeout=20)
        assert _blocking_def_call_answers(ops_server)
        assert _started(markers, "poke") == SHARE  # the others wait for the sensor's share
        release.write_text("go")
        phases = [p.result(timeout=30).resource.phase for p in polls]
    assert phases == [execution_pb2.TaskExecution.SUCCEEDED] * len(metas)


def test_blocking_log_iterators_cannot_starve_other_agents(
    ops_server: RunningServer, markers: Path, tmp_path: Path
) -> None:
    release = tmp_path / "release-logs"

    def read_logs(tag: str) -> list[str]:
        meta = json.dumps({"release": str(release), "tag": tag}).encode()
        request = agent_pb2.GetTaskLogsRequest(task_type="blocking_logs", resource_meta=meta)
        stream = ops_server.async_stub.GetTaskLogs(request, timeout=60)
        return [line for r in stream if r.HasField("body") for line in r.body.results]

    with concurrent.futures.ThreadPoolExecutor(SHARE + 2) as pool:
        streams = [pool.submit(read_logs, f"l{i}") for i in range(SHARE + 2)]
        wait_for(lambda: _started(markers, "logs") >= SHARE, timeout=20)
        assert _blocking_def_call_answers(ops_server)
        assert _started(markers, "logs") == SHARE
        release.write_text("go")
        assert [s.result(timeout=30) for s in streams] == [["released"]] * len(streams)


def _poll_blocking_poke(server: RunningServer, release: Path, tag: str) -> int:
    template = make_template("blocking_poke_sensor", inputs={"release": str, "tag": str})
    inputs = make_inputs(template, {"release": str(release), "tag": tag})
    create = agent_pb2.CreateTaskRequest(template=template, inputs=inputs)
    meta = server.async_stub.CreateTask(create, timeout=10).resource_meta
    get = agent_pb2.GetTaskRequest(task_type="blocking_poke_sensor", resource_meta=meta)
    return int(server.async_stub.GetTask(get, timeout=60).resource.phase)


def _read_blocking_logs(server: RunningServer, release: Path, tag: str) -> int:
    meta = json.dumps({"release": str(release), "tag": tag}).encode()
    request = agent_pb2.GetTaskLogsRequest(task_type="blocking_logs", resource_meta=meta)
    lines = [r for r in server.async_stub.GetTaskLogs(request, timeout=60) if r.HasField("body")]
    return len(lines)


@pytest.mark.parametrize(
    ("prefix", "blocking_call", "answer"),
    [
        ("poke", _poll_blocking_poke, execution_pb2.TaskExecution.SUCCEEDED),
        ("logs", _read_blocking_logs, 1),
    ],
)
def test_blocking_pokes_and_log_iterators_stay_within_agent_concurrency(
    markers: Path, tmp_path: Path, prefix: str, blocking_call: Any, answer: int
) -> None:
    # A share of 7 threads, but one call at a time into each agent.
    args = ("--modules", "fake_plugins.ops", "--max-threads", "8", "--agent-concurrency", "1")
    release = tmp_path / "release"
    with (
        test_server(markers, *args) as server,
        concurrent.futures.ThreadPoolExecutor(3) as pool,
    ):
        calls = [pool.submit(blocking_call, server, release, f"ac{i}") for i in range(3)]
        try:
            wait_for(lambda: _started(markers, prefix, "ac") >= 1, timeout=20)
            assert _blocking_def_call_answers(server)
            assert _started(markers, prefix, "ac") == 1  # the others wait for the agent
        finally:
            release.write_text("go")
        assert [c.result(timeout=30) for c in calls] == [answer] * len(calls)
    assert _started(markers, prefix, "ac") == 3


def test_plugin_module_imported_before_the_loader_keeps_its_agents(
    ops_server: RunningServer,
) -> None:
    # --strict: the server would not have started if fake_plugins.seed had "registered no agents".
    rows = [line.split() for line in ops_server.logs().splitlines()]
    owners = {row[6]: row[0] for row in rows if len(row) == 7 and row[2] == "loaded"}
    assert owners["SeedAgent"] == "module:fake_plugins.seed"
    assert owners["BlockingPokeSensor"] == "module:fake_plugins.ops"
    listed = ops_server.metadata_stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=10)
    assert [a.name for a in listed.agents].count("SeedAgent") == 1


def test_dict_outputs_without_declared_outputs_are_converted_untyped(
    ops_server: RunningServer,
) -> None:
    template = make_template("echo_sync", inputs={"prompt": str})  # declares no outputs
    requests = iter(
        [
            agent_pb2.ExecuteTaskSyncRequest(
                header=agent_pb2.CreateRequestHeader(template=template)
            ),
            agent_pb2.ExecuteTaskSyncRequest(inputs=make_inputs(template, {"prompt": "hi"})),
        ]
    )
    (response,) = ops_server.sync_stub.ExecuteTaskSync(requests, timeout=10)
    resource = response.header.resource
    assert resource.phase == execution_pb2.TaskExecution.SUCCEEDED, resource.message
    assert literal_map_to_python(resource.outputs) == {"out": "HI"}
    assert resource.outputs.literals["out"].scalar.primitive.string_value == "HI"
