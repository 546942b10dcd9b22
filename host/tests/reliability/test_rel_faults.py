"""Faulty plugins against real servers: an agent that raises, one that hangs, one that blocks
the event loop, one that leaks memory, plugins whose import exits or raises BaseException, and
one that segfaults under ``--workers 2``. The host survives each and keeps serving the others."""

from __future__ import annotations

import concurrent.futures
import os
import re
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import agent_pb2
from flyteidl.core import execution_pb2
from reliability_kit import record, rel_server, sample, scrape

from agenthost.testing import (
    RunningServer,
    free_port,
    make_inputs,
    make_template,
    stop_process,
    wait_for,
)

BROKEN_IMPORTS = ("fake_plugins.exit_on_import", "fake_plugins.baseexception_on_import")


@pytest.fixture(scope="module")
def metrics_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def server(markers: Path, metrics_port: int) -> Iterator[RunningServer]:
    """A server with a 2-thread pool, the faulty agents and two plugins that break at import."""
    modules = ",".join(("fake_plugins.basic", "fake_plugins.faulty", *BROKEN_IMPORTS))
    args = ("--max-threads", "2", "--metrics-port", str(metrics_port))
    with rel_server(markers, *args, modules=modules) as running:
        yield running
        assert running.process.poll() is None


def _create(server: RunningServer, task_type: str, timeout: float = 10, **custom: object):  # type: ignore[no-untyped-def]
    request = agent_pb2.CreateTaskRequest(template=make_template(task_type, custom=custom))
    return server.async_stub.CreateTask(request, timeout=timeout)


def _healthy_sync_call(server: RunningServer, timeout: float = 5) -> bool:
    template = make_template("fault_healthy_def", outputs={"ok": bool})

    def stream():  # type: ignore[no-untyped-def]
        yield agent_pb2.ExecuteTaskSyncRequest(
            header=agent_pb2.CreateRequestHeader(template=template)
        )
        yield agent_pb2.ExecuteTaskSyncRequest(inputs=make_inputs(template, {}))

    (response,) = server.sync_stub.ExecuteTaskSync(stream(), timeout=timeout)
    return bool(response.header.resource.phase == execution_pb2.TaskExecution.SUCCEEDED)


def test_plugins_that_exit_or_raise_baseexception_at_import_do_not_stop_the_host(
    server: RunningServer, metrics_port: int
) -> None:
    names = {
        a.name
        for a in server.metadata_stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=10).agents
    }
    assert {"RaisingAgent", "FastAgent", "HealthyDefAgent"} <= names
    logs = server.logs()
    for module in BROKEN_IMPORTS:
        assert module in logs
    assert "SystemExit" in logs and "PluginMeltdown" in logs
    failures = re.findall(
        r"^agenthost_plugin_load_failures\{.*\} 1\.0$", scrape(metrics_port), re.M
    )
    assert len(failures) == 2
    record("faults", "broken plugin imports survived", len(BROKEN_IMPORTS))


def test_raising_agent_is_internal_and_others_keep_working(server: RunningServer) -> None:
    for _ in range(5):
        with pytest.raises(grpc.RpcError) as info:
            _create(server, "fault_raise")
        assert info.value.code() == grpc.StatusCode.INTERNAL
    assert _healthy_sync_call(server)
    record("faults", "raising agent calls survived", 5)


def test_agent_code_raising_systemexit_or_baseexception_fails_only_its_call(
    server: RunningServer,
) -> None:
    """``sys.exit`` in ``async def create``, ``KeyboardInterrupt`` in a blocking ``get``, a bare
    ``BaseException`` in ``delete``, ``SystemExit`` mid-way through a log stream or in the
    agent's metadata type: each is its call's INTERNAL naming the agent, and the server keeps
    serving. So is a ``CancelledError`` agent code raises though nothing cancelled the call
    (it would otherwise never answer)."""
    category = agent_pb2.TaskCategory(name="fault_exit")
    meta = b'{"job_id":"j"}'
    calls = {
        "create: SystemExit: 3": lambda: _create(server, "fault_exit"),
        "create: CancelledError": lambda: _create(server, "fault_exit", cancel=True),
        "get: KeyboardInterrupt": lambda: server.async_stub.GetTask(
            agent_pb2.GetTaskRequest(task_category=category, resource_meta=meta), timeout=10
        ),
        "delete: AgentMeltdown: melted": lambda: server.async_stub.DeleteTask(
            agent_pb2.DeleteTaskRequest(task_category=category, resource_meta=meta), timeout=10
        ),
        "decode its resource_meta: SystemExit: 5": lambda: server.async_stub.GetTask(
            agent_pb2.GetTaskRequest(
                task_category=category, resource_meta=b'{"job_id":"exit-on-decode"}'
            ),
            timeout=10,
        ),
        "get logs: SystemExit: 4": lambda: list(
            server.async_stub.GetTaskLogs(
                agent_pb2.GetTaskLogsRequest(task_category=category, resource_meta=meta),
                timeout=10,
            )
        ),
    }
    for summary, call in calls.items():
        with pytest.raises(grpc.RpcError) as info:
            call()
        assert info.value.code() == grpc.StatusCode.INTERNAL, summary
        assert info.value.details().startswith(f"agent ExitingAgent failed to {summary} ")
        assert server.process.poll() is None
    assert _healthy_sync_call(server)


def test_hanging_agent_cannot_starve_the_thread_pool(
    server: RunningServer, markers: Path, tmp_path: Path
) -> None:
    """With 2 pool threads, three calls into an agent that hangs forever reach their deadline,
    and a blocking (def) call into another agent still gets a thread."""
    release = tmp_path / "release"
    try:
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            hung = [
                pool.submit(_create, server, "fault_hang", 1.5, release=str(release))
                for _ in range(3)
            ]
            for future in hung:
                with pytest.raises(grpc.RpcError) as info:
                    future.result(timeout=30)
                assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        for _ in range(3):
            assert _healthy_sync_call(server)
        # Only one hanging call ever got a thread: the others waited for the agent's share.
        assert len(list(markers.glob("hang-*"))) == 1
    finally:
        release.write_text("go")
    record("faults", "hanging agent calls survived", 3)


def test_agent_blocking_the_event_loop_is_named_in_the_log(server: RunningServer) -> None:
    assert _create(server, "fault_loop_block", seconds=1.2).resource_meta
    line = wait_for(
        lambda: next((x for x in server.logs().splitlines() if "event loop blocked for" in x), ""),
        timeout=10,
    )
    match = re.search(r"event loop blocked for ([\d.]+) s \(during (.+)\)", line)
    assert match is not None, line
    assert float(match.group(1)) >= 1.0
    assert match.group(2) == "LoopBlockingAgent create"
    record("faults", "event-loop stalls detected", 1)


def test_leaking_agent_shows_in_resident_memory_metric(
    server: RunningServer, metrics_port: int
) -> None:
    before = sample(scrape(metrics_port), "process_resident_memory_bytes")
    assert before is not None, "process_resident_memory_bytes is not exported"
    for _ in range(10):
        _create(server, "fault_leak", mib=4)
    after = sample(scrape(metrics_port), "process_resident_memory_bytes")
    assert after is not None
    assert after - before >= 30 * 2**20, (before, after)
    record("faults", "leak seen in RSS metric MiB", round((after - before) / 2**20, 1))


_WORKER_LINE = re.compile(r"agenthost worker (\d+) pid (\d+) serving")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs SO_REUSEPORT (POSIX)")
def test_segfaulting_agent_under_workers_is_restarted(markers: Path) -> None:
    with rel_server(markers, "--workers", "2") as server:
        started = len(_WORKER_LINE.findall(server.logs()))
        with pytest.raises(grpc.RpcError) as info:
            _create(server, "fault_segv")
        assert info.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL)
        assert list(markers.glob("segv-*"))
        wait_for(lambda: len(_WORKER_LINE.findall(server.logs())) > started, timeout=30)

        def fast_call() -> bool:
            template = make_template("fast_async", inputs={"x": int}, outputs={"y": int})
            request = agent_pb2.CreateTaskRequest(
                template=template, inputs=make_inputs(template, {"x": 1})
            )
            try:
                return bool(server.async_stub.CreateTask(request, timeout=5).resource_meta)
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
                return False

        wait_for(fast_call, timeout=30)  # a retry may hit the restarting worker
        assert all(fast_call() or fast_call() for _ in range(10))
        assert "exited with code -11" in server.logs()
        assert stop_process(server.process) == 0
    record("faults", "segfaulting worker restarted", 1)
