"""The red-team attacks of issue 20 and the bursts of issue 25 at full size against a real
``agenthost serve`` with default options (unless a row names an option), each recording its
figures for the reliability summary (section ``attacks`` and ``bursts``). The quick versions
of the same checks run in CI: ``host/tests/server/test_hardening.py``."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import agent_pb2
from hardening_kit import (
    MIB,
    burst,
    during_saturation,
    hold_slow_connections,
    idle_connection_closed_after,
    left_open,
    listening_addresses,
    memory_burst,
    open_silent_connections,
    process_tree,
    serve_on_taken_port,
    start_on_port,
    still_open,
    threads_of,
)
from reliability_kit import record, rel_server, scrape, server_env
from server_test_kit import serve_on_taken_port as serve_on_taken_metrics_port

from agenthost.server.metrics_http import REQUEST_TIMEOUT
from agenthost.testing import RunningServer, free_port, make_template

MODULES = "fake_plugins.basic,fake_plugins.faulty,fake_plugins.hardening"
SYNC_AGENT_SECONDS = float(os.environ.get("AGENTHOST_BURST_AGENT_SECONDS", "20"))
"""How long the agent of the 2,000-stream burst takes (issue 25: 20 s)."""


def _mib(value: int) -> str:
    return f"{value / MIB:.0f} MiB"


@pytest.fixture(scope="module")
def server(markers: Path) -> Iterator[RunningServer]:
    """A server with default options."""
    with rel_server(markers, modules=MODULES) as running:
        yield running


def test_memory_bursts_stay_under_the_chart_limit(server: RunningServer, markers: Path) -> None:
    pid = server.process.pid
    small = memory_burst(server.address, pid, 64, 4 * MIB)
    big = memory_burst(server.address, pid, 16, 48 * MIB)
    record("attacks", "64 x 4 MiB CreateTask: peak RSS (<= 300 MB)", _mib(small.peak_rss))
    record("attacks", "64 x 4 MiB CreateTask: answers", small.codes)
    record("attacks", "16 x 48 MiB requests: peak RSS (<= 400 MB)", _mib(big.peak_rss))
    record("attacks", "16 x 48 MiB requests: answers", big.codes)
    assert small.codes == {"OK": 64}
    assert small.peak_rss <= 300 * 1000 * 1000
    assert big.codes == {"RESOURCE_EXHAUSTED": 16}
    assert big.peak_rss <= 400 * 1000 * 1000
    with rel_server(markers, "--max-message-size", str(64 * MIB), modules=MODULES) as wide:
        waited = memory_burst(wide.address, wide.process.pid, 16, 48 * MIB, hold=0.2)
    record("attacks", "16 x 48 MiB, --max-message-size 64 MiB: peak RSS", _mib(waited.peak_rss))
    record("attacks", "16 x 48 MiB, --max-message-size 64 MiB: answers", waited.codes)
    assert waited.codes == {"OK": 16}
    assert waited.peak_rss <= 400 * 1000 * 1000


def test_health_answers_during_saturation(markers: Path) -> None:
    with rel_server(markers, "--max-concurrent-rpcs", "16", modules=MODULES) as saturated:
        seen = during_saturation(saturated.address, 16)
    record(
        "attacks",
        "saturated (--max-concurrent-rpcs 16): health Check SERVING",
        f"{seen.health_serving}/5",
    )
    record("attacks", "saturated: ListAgents/GetAgent answered", f"{seen.metadata_ok}/10")
    record(
        "attacks", "saturated: v2 ListConnectors/GetConnector answered", f"{seen.connectors_ok}/10"
    )
    record("attacks", "saturated: agenthost health exit code", seen.health_command_exit)
    record("attacks", "saturated: one more agent call", seen.shed_code)
    assert (seen.health_serving, seen.metadata_ok, seen.connectors_ok) == (5, 10, 10)
    assert seen.health_command_exit == 0
    assert seen.shed_code == "RESOURCE_EXHAUSTED"


def test_connections_that_go_nowhere_are_closed(server: RunningServer, markers: Path) -> None:
    """200 handshake-less connections and one ExecuteTaskSync stream without inputs, at once,
    with default options; then an idle connection with --max-connection-idle 2."""
    sockets = open_silent_connections(server.address, 200)
    began = time.monotonic()
    outcome: dict[str, object] = {}

    def header_only() -> None:
        done = threading.Event()
        header = agent_pb2.ExecuteTaskSyncRequest(
            header=agent_pb2.CreateRequestHeader(template=make_template("sleep_sync"))
        )

        def requests() -> Iterator[agent_pb2.ExecuteTaskSyncRequest]:
            yield header
            done.wait(60)

        started = time.monotonic()
        try:
            list(server.sync_stub.ExecuteTaskSync(requests(), timeout=120))
            outcome["code"] = "OK"
        except grpc.RpcError as exc:
            outcome["code"] = exc.code().name
        finally:
            done.set()
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=header_only)
    thread.start()
    try:
        time.sleep(max(0.0, 20.0 - (time.monotonic() - began)))  # the figure is "after 20 s"
        remaining = still_open(sockets)
    finally:
        for sock in sockets:
            sock.close()
    thread.join(timeout=60)
    record("attacks", "handshake-less connections still open after 20 s (of 200)", remaining)
    record(
        "attacks",
        "ExecuteTaskSync header without inputs: ended after",
        f"{outcome.get('seconds', 0):.1f} s, {outcome.get('code')}",
    )
    with rel_server(markers, "--max-connection-idle", "2", modules=MODULES) as idle:
        closed_after = idle_connection_closed_after(idle.address, 30)
    shown = "still open after 30 s" if closed_after is None else f"{closed_after:.1f} s"
    record("attacks", "idle connection (--max-connection-idle 2) closed after", shown)
    assert remaining == 0
    assert outcome.get("code") == "DEADLINE_EXCEEDED"
    assert closed_after is not None


def test_a_second_server_on_a_taken_port_is_refused(markers: Path) -> None:
    port = free_port()
    env = server_env(markers)
    first = start_on_port(port, env, "--modules", MODULES, "--workers", "2")
    try:
        code, stderr, seconds = serve_on_taken_port(
            port, env, "--modules", MODULES, "--workers", "2"
        )
    finally:
        first.stop()
    record(
        "attacks", "second --workers 2 server on a taken port", f"exit {code} after {seconds:.1f} s"
    )
    assert code == 1
    assert f"port {port} is already in use" in stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_metrics_listener_is_no_side_door(markers: Path, workers: str) -> None:
    """O7b, T4, O7: with ``--host 127.0.0.1``, no process listens elsewhere (the metrics
    listener included); 150 half-sent requests on the metrics port add no thread and are
    closed; a taken metrics port is a start-up error."""
    port = free_port()
    args = ("--metrics-port", str(port), "--workers", workers)
    with rel_server(markers, *args, modules=MODULES) as running:
        pid = running.process.pid
        addresses = listening_addresses(process_tree(pid))
        threads = threads_of(pid)
        held = hold_slow_connections(port, 150)
        try:
            added = threads_of(pid) - threads
            scraped = "process_resident_memory_bytes" in scrape(port)
        finally:
            remaining = left_open(held, REQUEST_TIMEOUT + 10)
    taken_port, taken = serve_on_taken_metrics_port(markers, "--metrics-port", "--workers", workers)
    label = f"--workers {workers}"
    hosts = sorted({host for host, _ in addresses})
    record("attacks", f"{label}: addresses listened on with --host 127.0.0.1", hosts)
    record("attacks", f"{label}: threads added by 150 half-sent /metrics requests", added)
    record(
        "attacks",
        f"{label}: of those, still open after {REQUEST_TIMEOUT + 10:g} s",
        remaining,
    )
    record("attacks", f"{label}: taken --metrics-port", f"exit {taken.returncode}")
    assert hosts == ["127.0.0.1"] and ("127.0.0.1", port) in addresses
    assert added <= 1 and scraped and remaining == 0
    assert taken.returncode != 0 and f"--metrics-port {taken_port}" in taken.stderr


def _record_burst(label: str, result: object) -> None:
    record("bursts", f"{label}: answers", result.codes)  # type: ignore[attr-defined]
    record("bursts", f"{label}: p99 / total", f"{result.p99:.2f} s / {result.seconds:.1f} s")  # type: ignore[attr-defined]


@pytest.mark.parametrize("protocol", ["v1", "v2"])
@pytest.mark.parametrize("kind", ["create", "get"])
def test_5000_unary_calls_at_once(server: RunningServer, kind: str, protocol: str) -> None:
    result = burst(server.address, 5000, kind, protocol=protocol)
    name = "CreateTask" if kind == "create" else "GetTask"
    _record_burst(f"5,000 {protocol} {name} at once (Python)", result)
    assert result.codes == {"OK": 5000}


def test_v2_memory_burst(markers: Path) -> None:
    with rel_server(markers, modules=MODULES) as fresh:
        result = memory_burst(fresh.address, fresh.process.pid, 64, 4 * MIB, protocol="v2")
    record("attacks", "64 x 4 MiB v2 CreateTask: peak RSS (<= 300 MB)", _mib(result.peak_rss))
    assert result.codes == {"OK": 64}
    assert result.peak_rss <= 300 * 1000 * 1000


def test_2000_execute_task_sync_streams_of_a_slow_agent(server: RunningServer) -> None:
    result = burst(server.address, 2000, "sync", seconds=SYNC_AGENT_SECONDS, pid=server.process.pid)
    label = f"2,000 ExecuteTaskSync of a {SYNC_AGENT_SECONDS:g} s agent (Python)"
    _record_burst(label, result)
    per_call = (result.peak_rss - result.baseline_rss) / 2000 / 1024
    record("bursts", f"{label}: peak RSS", _mib(result.peak_rss))
    record("bursts", f"{label}: KiB per call in flight", f"{per_call:.1f}")
    assert result.codes == {"OK": 2000}
    assert result.peak_rss <= 300 * 1000 * 1000


def test_bursts_with_workers(markers: Path) -> None:
    with rel_server(markers, "--workers", "2", modules=MODULES) as workers:
        unary = burst(workers.address, 5000, "create")
        streams = burst(workers.address, 2000, "sync", seconds=2.0)
    _record_burst("--workers 2: 5,000 CreateTask at once", unary)
    _record_burst("--workers 2: 2,000 ExecuteTaskSync (2 s agent)", streams)
    assert unary.codes == {"OK": 5000}
    assert streams.codes == {"OK": 2000}
