"""The ``/metrics`` listener against real servers: one scrape aggregates every ``--workers``
process and survives a worker restart, the listener binds the gRPC bind address, slow clients
hold no thread and time out, and a taken metrics (or health) port is a start-up error."""

from __future__ import annotations

import os
import re
import signal
import socket
import struct
import subprocess
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import agent_pb2
from flyteidl.service import agent_pb2_grpc
from hardening_kit import (
    hold_slow_connections,
    left_open,
    listening_addresses,
    process_tree,
    threads_of,
)
from prometheus_client.parser import text_string_to_metric_families
from server_test_kit import free_port, serve_on_taken_port, server_env, test_server

from agenthost.literals import literal_map_to_python
from agenthost.server.metrics_http import REQUEST_TIMEOUT
from agenthost.testing import (
    RunningServer,
    make_inputs,
    make_template,
    serve_command,
    stop_process,
    wait_for,
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
PID_CALLS = (("operation", "do"), ("protocol", "v1"), ("task_type", "pid_sync"))


def scrape(port: int, host: str = "127.0.0.1") -> Samples:
    """Every sample of one scrape, keyed by name and sorted labels."""
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def call_pid_agent(address: str, calls: int) -> list[int]:
    """``calls`` ExecuteTaskSync calls of ``pid_sync`` over one new connection; the pids of
    the processes that answered."""
    template = make_template("pid_sync", outputs={"pid": int})
    pids = []
    options = [("grpc.use_local_subchannel_pool", 1)]  # a new connection every time
    with grpc.insecure_channel(address, options=options) as channel:
        stub = agent_pb2_grpc.SyncAgentServiceStub(channel)
        for _ in range(calls):
            requests = iter(
                [
                    agent_pb2.ExecuteTaskSyncRequest(
                        header=agent_pb2.CreateRequestHeader(template=template)
                    ),
                    agent_pb2.ExecuteTaskSyncRequest(inputs=make_inputs(template, {})),
                ]
            )
            (response,) = stub.ExecuteTaskSync(requests, timeout=10)
            outputs = response.header.resource.outputs
            pids.append(int(literal_map_to_python(outputs, template.interface.outputs)["pid"]))
    return pids


def worker_pids(server: RunningServer) -> dict[int, int]:
    """The latest pid of each worker, from the supervisor's ``worker i pid P serving`` lines."""
    found = re.findall(r"agenthost worker (\d+) pid (\d+) serving", server.logs())
    return {int(index): int(pid) for index, pid in found}


@pytest.fixture(scope="module")
def workers(
    markers: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningServer, int, Path]]:
    """A ``--workers 2`` server, its metrics port and the TMPDIR it keeps its files in."""
    tmp = tmp_path_factory.mktemp("workers-tmp")
    port = free_port()
    args = (
        "--modules",
        "fake_plugins.ops,fake_plugins.seed",
        "--workers",
        "2",
        "--metrics-port",
        str(port),
    )
    with test_server(markers, *args, env={"TMPDIR": str(tmp)}) as running:
        yield running, port, tmp
    assert not list(tmp.glob("agenthost-metrics-*")), "metrics files left behind"


def test_one_scrape_counts_the_calls_of_every_worker(
    workers: tuple[RunningServer, int, Path],
) -> None:
    server, port, _tmp = workers
    served: Counter[int] = Counter()
    for _ in range(100):  # new connections until both workers have answered
        served.update(call_pid_agent(server.address, 3))
        if len(served) == 2 and sum(served.values()) >= 12:
            break
    assert set(served) == set(worker_pids(server).values())

    got = scrape(port)
    calls = sum(served.values())
    assert got[("flyte_connector_requests_success_total", PID_CALLS)] == calls
    assert got[("flyte_connector_request_latency_seconds_count", PID_CALLS)] == calls
    assert got[("agenthost_requests_in_flight", (("operation", "do"), ("protocol", "v1")))] == 0
    for worker in ("0", "1", "supervisor"):
        assert got[("process_resident_memory_bytes", (("worker", worker),))] > 0


def test_counts_survive_a_worker_restart_without_new_files(
    workers: tuple[RunningServer, int, Path],
) -> None:
    server, port, tmp = workers
    call_pid_agent(server.address, 2)
    before = scrape(port)[("flyte_connector_requests_success_total", PID_CALLS)]
    (directory,) = tmp.glob("agenthost-metrics-*")
    files = sorted(p.name for p in directory.iterdir())
    old = worker_pids(server)

    os.kill(old[0], signal.SIGKILL)
    wait_for(lambda: worker_pids(server).get(0) not in (None, old[0]), timeout=30)

    after = scrape(port)
    assert after[("flyte_connector_requests_success_total", PID_CALLS)] == before
    call_pid_agent(server.address, 4)
    assert scrape(port)[("flyte_connector_requests_success_total", PID_CALLS)] == before + 4
    assert sorted(p.name for p in directory.iterdir()) == files


def test_in_flight_calls_of_killed_workers_leave_the_gauge(
    workers: tuple[RunningServer, int, Path],
) -> None:
    server, port, _tmp = workers
    template = make_template("slow_async", custom={"seconds": 60, "tag": "killed-worker"})
    in_flight = ("agenthost_requests_in_flight", (("operation", "create"), ("protocol", "v1")))

    def create() -> grpc.StatusCode:
        options = [("grpc.use_local_subchannel_pool", 1)]  # a new connection every time
        with grpc.insecure_channel(server.address, options=options) as channel:
            stub = agent_pb2_grpc.AsyncAgentServiceStub(channel)
            with pytest.raises(grpc.RpcError) as info:
                stub.CreateTask(agent_pb2.CreateTaskRequest(template=template), timeout=60)
            return info.value.code()

    old = worker_pids(server)
    with ThreadPoolExecutor(6) as pool:
        calls = [pool.submit(create) for _ in range(6)]
        wait_for(lambda: scrape(port).get(in_flight) == len(calls), timeout=30)
        for pid in old.values():
            os.kill(pid, signal.SIGKILL)
        assert {call.result(timeout=30) for call in calls} == {grpc.StatusCode.UNAVAILABLE}
    restarted = lambda: all(worker_pids(server).get(i) not in (None, old[i]) for i in old)  # noqa: E731
    wait_for(restarted, timeout=30)
    # not the 6 calls the dead workers had in flight (their files are reused by the new ones)
    assert scrape(port)[in_flight] == 0


def test_slow_clients_hold_no_supervisor_thread_and_time_out(
    workers: tuple[RunningServer, int, Path],
) -> None:
    server, port, _tmp = workers
    threads = threads_of(server.process.pid)
    held = hold_slow_connections(port, 100)
    try:
        assert scrape(port)[("flyte_connector_requests_success_total", PID_CALLS)] > 0
        assert threads_of(server.process.pid) <= threads + 1
    finally:
        assert left_open(held, REQUEST_TIMEOUT + 10) == 0


def test_single_process_metrics_bind_the_grpc_address_and_time_out_slow_clients(
    markers: Path,
) -> None:
    port = free_port()
    with test_server(markers, "--metrics-port", str(port)) as server:
        assert ("process_resident_memory_bytes", ()) in scrape(port)
        with pytest.raises(ConnectionRefusedError):  # --host 127.0.0.1: not 127.0.0.2
            socket.create_connection(("127.0.0.2", port), timeout=5).close()
        threads = threads_of(server.process.pid)
        held = hold_slow_connections(port, 100)
        try:
            assert ("process_resident_memory_bytes", ()) in scrape(port)
            assert threads_of(server.process.pid) <= threads + 1
        finally:
            assert left_open(held, REQUEST_TIMEOUT + 10) == 0


@pytest.mark.parametrize("workers", ["1", "2"])
def test_every_process_listens_on_the_grpc_bind_address_only(markers: Path, workers: str) -> None:
    """Issue 20.4: ``ss -ltnp`` of the server's processes, with ``--host 127.0.0.1``: the
    metrics listener binds it too (not 0.0.0.0), and with ``--workers`` the workers listen on
    the gRPC port alone (the supervisor serves ``/metrics``)."""
    port = free_port()
    with test_server(markers, "--metrics-port", str(port), "--workers", workers) as server:
        grpc_port = int(server.address.rsplit(":", 1)[1])
        tree = process_tree(server.process.pid)
        assert len(tree) >= (1 if workers == "1" else 3)
        assert listening_addresses(tree) == {("127.0.0.1", grpc_port), ("127.0.0.1", port)}
        for worker in tree[1:] if workers != "1" else []:
            assert listening_addresses([worker]) <= {("127.0.0.1", grpc_port)}


@pytest.mark.parametrize("workers", ["1", "2"])
def test_metrics_host_option_overrides_the_grpc_address(markers: Path, workers: str) -> None:
    port = free_port()
    args = ("--metrics-port", str(port), "--metrics-host", "127.0.0.2", "--workers", workers)
    with test_server(markers, *args):
        assert any(name == "process_resident_memory_bytes" for name, _ in scrape(port, "127.0.0.2"))
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()


@pytest.mark.parametrize("option", ["--metrics-port", "--health-port"])
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_taken_side_port_is_a_startup_error(markers: Path, option: str, workers: str) -> None:
    port, result = serve_on_taken_port(markers, option, "--workers", workers)
    assert result.returncode != 0
    assert f"{option} {port}" in result.stderr
    assert "agenthost serving on" not in result.stdout
    assert "worker 0" not in result.stdout


def test_the_same_port_for_grpc_metrics_and_health_is_rejected(markers: Path) -> None:
    result = subprocess.run(
        serve_command("--port", "18431", "--metrics-port", "18431", "--health-port", "18431"),
        env={**os.environ, **server_env(markers)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--port and --metrics-port are both 18431" in result.stderr
    assert "--metrics-port and --health-port are both 18431" in result.stderr


BUDGET = (
    "agenthost_request_bytes_reserved",
    "agenthost_request_reads_in_progress",
    "agenthost_request_reads_waiting",
)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_stalled_request_reads_show_in_the_budget_gauges(markers: Path, workers: str) -> None:
    """Five CreateTask calls that send no request, with a budget of two reads: two reads in
    progress holding the budget and three waiting, until the client gives up (``--workers 2``:
    summed over the workers; one connection reaches one of them)."""
    port = free_port()
    mib = 1024 * 1024
    args = ("--metrics-port", str(port), "--workers", workers)
    limits = ("--max-message-size", str(mib), "--max-request-bytes", str(2 * mib))
    with test_server(markers, *args, *limits) as server:
        budget = lambda: tuple(scrape(port).get((name, ())) for name in BUDGET)  # noqa: E731
        wait_for(lambda: budget() == (0, 0, 0), timeout=30)
        send = threading.Event()

        def nothing_yet() -> Iterator[bytes]:
            send.wait(60)
            return
            yield  # a generator that sends no request

        with grpc.insecure_channel(server.address) as channel:
            create = channel.stream_unary("/flyteidl.service.AsyncAgentService/CreateTask")
            calls = [create.future(nothing_yet(), timeout=60) for _ in range(5)]
            try:
                wait_for(lambda: budget() == (2 * mib, 2, 3), timeout=30)
            finally:
                send.set()
                for call in calls:
                    call.cancel()
        wait_for(lambda: budget() == (0, 0, 0), timeout=30)


def test_clients_that_reset_before_the_answer_log_no_error(markers: Path) -> None:
    """A client that sends its request and resets the connection at once (a scraper giving up,
    a port scanner): on uvloop, writing the answer to the closed transport raised, and the
    listener logged ``metrics scrape failed`` with a traceback at ERROR for each such client,
    anyone who could reach the port could fill the log. Now they are only dropped."""
    metrics_port = free_port()
    with test_server(markers, "--metrics-port", str(metrics_port)) as server:
        for _ in range(100):
            with socket.create_connection(("127.0.0.1", metrics_port)) as sock:
                sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        assert scrape(metrics_port)  # the listener still answers
        assert server.stop() == 0  # and everything it logged has been read
    assert "metrics scrape failed" not in server.logs()


def test_a_supervisor_stopped_while_starting_leaves_no_metrics_directory(
    markers: Path, tmp_path: Path
) -> None:
    """SIGTERM while the supervisor sets up ``--metrics-port``: it had created its metrics
    directory but not yet installed its SIGTERM handler, so it died of the signal and left the
    directory behind (every time, for a signal in that window)."""
    command = [*serve_command("--metrics-port", str(free_port()), "--workers", "2")]
    env = {**os.environ, **server_env(markers), "TMPDIR": str(tmp_path)}
    process = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        wait_for(lambda: list(tmp_path.glob("agenthost-metrics-*")), timeout=60, interval=0.001)
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    finally:
        stop_process(process)
    assert not list(tmp_path.glob("agenthost-metrics-*"))
    assert code == 0
