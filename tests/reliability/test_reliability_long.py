"""Long-only reliability scenarios (the quick ones in ``host/tests/reliability`` run at volume
in the same session): shutdown during continuous traffic, fuzzing from many concurrent clients,
and repeated crashes of a worker process."""

from __future__ import annotations

import concurrent.futures
import os
import re
import threading
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import agent_pb2
from rel_fuzz_cases import Outcome, RawClient, random_cases
from rel_load import LoadFigures, run_load
from rel_shutdown import sigterm_under_load
from reliability_kit import record, rel_server, rss_bytes

from agenthost.testing import make_inputs, make_template, stop_process, wait_for

RAW_PER_METHOD = int(os.environ.get("AGENTHOST_FUZZ_RAW", "1500"))
CRASHES = int(os.environ.get("AGENTHOST_CRASHES", "5"))
GRACE = 30.0


def test_sigterm_during_continuous_traffic(markers: Path, tmp_path: Path) -> None:
    """64 clients of mixed traffic keep calling while 64 tracked calls are in flight and the
    server gets SIGTERM: tracked calls all complete, late ones are refused before starting,
    and the traffic sees UNAVAILABLE (its reconnections refused after the GOAWAY) or transport
    statuses from gRPC's shutdown, never an error answer from agenthost."""
    sensor_path = tmp_path / "exists"
    sensor_path.write_text("x")
    with rel_server(markers, "--grace-period", str(GRACE)) as server:
        load: list[LoadFigures] = []
        traffic = threading.Thread(
            target=lambda: load.append(
                run_load(server.address, server.process.pid, 15.0, 64, str(sensor_path))
            )
        )
        traffic.start()
        wait_for(lambda: len(server.logs()) > 0, timeout=5)
        figures = sigterm_under_load(server, markers, grace=GRACE)
        traffic.join(timeout=120)
    (background,) = load
    record("shutdown under traffic", "background calls", background.calls)
    record("shutdown under traffic", "background errors by code", dict(background.errors))
    record("shutdown under traffic", "tracked completed", figures.completed)
    record("shutdown under traffic", "tracked refused before start", figures.refused_unstarted)
    record("shutdown under traffic", "tracked cut mid-way", len(figures.cut_mid_way))
    record(
        "shutdown under traffic",
        "exit code / s",
        f"{figures.exit_code} / {figures.exit_seconds:.1f}",
    )
    assert figures.cut_mid_way == []
    assert figures.other_errors == []
    assert figures.completed >= figures.in_flight
    assert figures.exit_code == 0
    assert figures.exit_seconds < GRACE
    # Besides UNAVAILABLE (reconnection refused), calls racing gRPC's shutdown get transport
    # statuses from grpc itself (never an answer from agenthost): CANCELLED, or
    # INTERNAL "Internal error from Core" on a stream still being written by the client.
    transport = {"CANCELLED", "Internal error from Core"}
    unexpected = {
        key: details
        for key, details in background.error_samples.items()
        if not key.startswith("UNAVAILABLE") and details not in transport
    }
    assert unexpected == {}
    assert background.errors.get("UNAVAILABLE", 0) > 0


def test_raw_fuzz_from_16_concurrent_clients(markers: Path, secrets_dir: Path) -> None:
    outcome = Outcome()
    lock = threading.Lock()
    with rel_server(
        markers, "--max-message-size", str(1024 * 1024), secrets_dir=secrets_dir
    ) as server:
        start = rss_bytes(server.process.pid)

        def fuzz(seed: int) -> list[str]:
            local = Outcome()
            with grpc.insecure_channel(server.address) as channel:
                client = RawClient(channel, local)
                problems = [
                    p
                    for method, payload in random_cases(seed, max(1, RAW_PER_METHOD // 16))
                    if (p := client.call(method, payload))
                ]
            with lock:
                outcome.cases += local.cases
                for code, count in local.codes.items():
                    outcome.codes[code] = outcome.codes.get(code, 0) + count
            return problems

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            problems = [p for found in pool.map(fuzz, range(100, 116)) for p in found]
        end = rss_bytes(server.process.pid)
        assert server.metadata_stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=10).agents
    record("concurrent fuzzing", "clients", 16)
    record("concurrent fuzzing", "cases sent", outcome.cases)
    record("concurrent fuzzing", "bad answers", len(problems))
    record("concurrent fuzzing", "RSS start / end MiB", f"{start / 2**20:.1f} / {end / 2**20:.1f}")
    assert problems == []
    assert end - start < 64 * 2**20


_WORKER_LINE = re.compile(r"agenthost worker (\d+) pid (\d+) serving")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs SO_REUSEPORT (POSIX)")
def test_repeated_worker_segfaults(markers: Path) -> None:
    template = make_template("fast_async", inputs={"x": int}, outputs={"y": int})
    ok_request = agent_pb2.CreateTaskRequest(
        template=template, inputs=make_inputs(template, {"x": 1})
    )
    segv = agent_pb2.CreateTaskRequest(template=make_template("fault_segv"))

    def ok() -> bool:
        try:
            return bool(server.async_stub.CreateTask(ok_request, timeout=5).resource_meta)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNAVAILABLE:
                raise
            return False

    with rel_server(markers, "--workers", "2") as server:
        for crash in range(CRASHES):
            before = len(_WORKER_LINE.findall(server.logs()))
            with pytest.raises(grpc.RpcError):
                server.async_stub.CreateTask(segv, timeout=10)
            wait_for(lambda: len(_WORKER_LINE.findall(server.logs())) > before, timeout=60)
            wait_for(ok, timeout=30)
        assert stop_process(server.process) == 0
        restarts = server.logs().count("exited with code -11")
    record("faults", "worker segfaults survived (long)", CRASHES)
    assert restarts >= CRASHES
