"""Hardening against an outside attacker and bursts of calls (issues 20 and 25), each case
against a real ``agenthost serve`` subprocess. The reliability session runs the same attacks
at full size (``tests/reliability/test_attacks.py``, ``test_cross_client_bursts.py``)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import agent_pb2
from flyteidl.core import literals_pb2
from flyteidl.core.execution_pb2 import TaskExecution
from hardening_kit import (
    CREATE,
    CREATE_V2,
    MIB,
    burst,
    create_request,
    during_saturation,
    idle_connection_closed_after,
    memory_burst,
    open_silent_connections,
    relay_from,
    serve_on_taken_port,
    stalled_calls,
    start_on_port,
    still_open,
)
from server_test_kit import free_port, server_env, test_server

from agenthost.testing import (
    RunningServer,
    make_inputs,
    make_template,
    wait_for,
)

MODULES = "fake_plugins.basic,fake_plugins.hardening"


def hardened(markers: Path, *args: str, **kwargs: object) -> object:
    """A server with the test and hardening agents (``kwargs``: ``test_server``'s)."""
    return test_server(markers, "--modules", MODULES, *args, **kwargs)


@pytest.fixture(scope="module")
def server(markers: Path) -> Iterator[RunningServer]:
    """One server with default limits."""
    with hardened(markers) as running:  # type: ignore[attr-defined]
        yield running


# -- 20.1 health never sheds ---------------------------------------------------------------


def test_health_and_metadata_answer_while_agent_calls_are_shed(markers: Path) -> None:
    with hardened(markers, "--max-concurrent-rpcs", "4") as server:  # type: ignore[attr-defined]
        seen = during_saturation(server.address, 4)
        assert server.process.poll() is None
    assert seen.shed_code == "RESOURCE_EXHAUSTED"
    assert "limit of 4 concurrent agent calls" in seen.shed_details
    assert "--max-concurrent-rpcs" in seen.shed_details
    assert seen.health_serving == 5
    assert seen.metadata_ok == 10
    assert seen.connectors_ok == 10
    assert seen.health_command_exit == 0


# -- 20.2 request memory is bounded --------------------------------------------------------


def test_64_concurrent_4_mib_requests_stay_under_300_mb(server: RunningServer) -> None:
    result = memory_burst(server.address, server.process.pid, 64, 4 * MIB)
    assert result.codes == {"OK": 64}
    assert result.peak_rss <= 300 * 1000 * 1000, result


def test_16_concurrent_48_mib_requests_stay_under_400_mb_and_are_refused(
    server: RunningServer,
) -> None:
    result = memory_burst(server.address, server.process.pid, 16, 48 * MIB)
    assert result.codes == {"RESOURCE_EXHAUSTED": 16}
    assert all("larger than max" in d and "8388608" in d for d in result.details)
    assert result.peak_rss <= 400 * 1000 * 1000, result
    assert server.process.poll() is None


def test_v2_requests_are_read_within_the_budget_too(markers: Path) -> None:
    with hardened(markers) as fresh:  # type: ignore[attr-defined]
        result = memory_burst(fresh.address, fresh.process.pid, 64, 4 * MIB, protocol="v2")
    assert result.codes == {"OK": 64}
    assert result.peak_rss <= 300 * 1000 * 1000, result


def test_calls_over_the_budget_wait_for_it(markers: Path) -> None:
    """A budget of one message: 8 concurrent 4 MiB calls are read one after the other (each
    waits for the previous to finish) and all succeed; memory stays near one request."""
    args = ("--max-request-bytes", str(8 * MIB + 1), "--max-message-size", str(8 * MIB))
    with hardened(markers, *args) as server:  # type: ignore[attr-defined]
        result = memory_burst(server.address, server.process.pid, 8, 4 * MIB, hold=0.2)
    assert result.codes == {"OK": 8}
    assert result.peak_rss - result.baseline_rss <= 100 * MIB, result


def test_execute_task_sync_works_with_a_message_size_equal_to_the_budget(markers: Path) -> None:
    """A stream's inputs are read beside its header's bytes, never waiting for itself (it
    did, until the call's deadline, when ``--max-message-size`` was the whole budget)."""
    args = ("--max-message-size", str(8 * MIB), "--max-request-bytes", str(8 * MIB))
    template = make_template("sleep_sync")
    requests = [
        agent_pb2.ExecuteTaskSyncRequest(header=agent_pb2.CreateRequestHeader(template=template)),
        agent_pb2.ExecuteTaskSyncRequest(inputs=make_inputs(template, {})),
    ]
    with hardened(markers, *args) as server:  # type: ignore[attr-defined]
        (response,) = server.sync_stub.ExecuteTaskSync(iter(requests), timeout=10)
        logs = server.logs()
    assert response.header.resource.phase == TaskExecution.SUCCEEDED
    assert "lets only 1 request(s) of up to --max-message-size 8388608 be read at once" in logs


@pytest.mark.parametrize("protocol", ["v1", "v2"])
def test_a_client_that_sends_no_requests_delays_another_clients_calls_by_a_second(
    markers: Path, protocol: str
) -> None:
    """One client opens 20 agent calls and sends none of their requests, on a budget of four
    reads: another client (another address) still gets each of its calls through, because the
    first keeps only its share of the reads once the other waits; the reads it loses end
    UNAVAILABLE (never run, safe to retry). Before, the other client waited for
    ``--read-timeout`` (60 s here) and its calls missed their 10 s deadlines."""
    limits = ("--max-message-size", str(MIB), "--max-request-bytes", str(4 * MIB))
    with hardened(markers, *limits, "--read-timeout", "60") as server:  # type: ignore[attr-defined]
        stalled, end = stalled_calls(server.address, CREATE if protocol == "v1" else CREATE_V2, 20)
        try:
            with relay_from("127.0.0.2", server.address) as other:
                path, request = create_request(make_template("fast_async"), None, protocol)
                with grpc.insecure_channel(other) as channel:
                    create = channel.unary_unary(path)
                    answers = [create(request, timeout=10) for _ in range(5)]
            wait_for(lambda: sum(call.done() for call in stalled) >= 2, timeout=30)
            ended = [call.exception() for call in stalled if call.done()]
        finally:
            end()
        assert server.process.poll() is None
    assert len(answers) == 5 and all(answers)
    assert {e.code() for e in ended} == {grpc.StatusCode.UNAVAILABLE}  # type: ignore[union-attr]
    assert "while calls from other clients waited for request-bytes budget" in (
        ended[0].details() or ""  # type: ignore[union-attr]
    )


# -- 20.3 connections that go nowhere are closed -------------------------------------------


def test_handshake_less_connections_are_closed(markers: Path) -> None:
    with hardened(markers, "--handshake-timeout", "1") as server:  # type: ignore[attr-defined]
        sockets = open_silent_connections(server.address, 20)
        try:
            wait_for(lambda: still_open(sockets) == 0, timeout=15)
        finally:
            for sock in sockets:
                sock.close()


def test_idle_connections_are_closed(markers: Path) -> None:
    with hardened(markers, "--max-connection-idle", "1") as server:  # type: ignore[attr-defined]
        closed_after = idle_connection_closed_after(server.address, 15)
    assert closed_after is not None
    assert 0.5 <= closed_after < 15


def test_execute_task_sync_without_inputs_ends_after_the_read_timeout(markers: Path) -> None:
    with hardened(markers, "--read-timeout", "1") as server:  # type: ignore[attr-defined]
        template = make_template("sleep_sync")
        header = agent_pb2.ExecuteTaskSyncRequest(
            header=agent_pb2.CreateRequestHeader(template=template)
        )

        done = threading.Event()

        def header_then_nothing() -> Iterator[agent_pb2.ExecuteTaskSyncRequest]:
            yield header
            done.wait(30)  # the client stays, sending nothing; the server ends the call

        began = time.monotonic()
        try:
            with pytest.raises(grpc.RpcError) as info:
                list(server.sync_stub.ExecuteTaskSync(header_then_nothing(), timeout=60))
        finally:
            done.set()
        elapsed = time.monotonic() - began
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "inputs" in (info.value.details() or "")
    assert "--read-timeout" in (info.value.details() or "")
    assert elapsed < 10


# -- 20.5 nobody shares the port -----------------------------------------------------------


@pytest.mark.parametrize("first_workers", [1, 2])
def test_a_taken_port_fails_at_once_with_or_without_workers(
    markers: Path, first_workers: int
) -> None:
    port = free_port()
    env = server_env(markers)
    first = start_on_port(port, env, "--modules", MODULES, "--workers", str(first_workers))
    try:
        for extra in ((), ("--workers", "2")):
            code, stderr, seconds = serve_on_taken_port(port, env, "--modules", MODULES, *extra)
            assert code == 1, stderr
            assert f"port {port} is already in use" in stderr
            assert seconds < 15
    finally:
        first.stop()


# -- 20.10 malformed content is the caller's fault -----------------------------------------


@pytest.mark.parametrize(
    ("custom", "field"),
    [
        ({"config": {"threshold": math.nan}}, "config.threshold"),
        ({"limits": [1.0, math.inf]}, "limits[1]"),
        ({"t": -math.inf}, "t"),
    ],
)
def test_non_finite_numbers_in_custom_are_invalid_argument(
    server: RunningServer, custom: dict[str, object], field: str
) -> None:
    template = make_template("fast_async", custom=custom)
    with pytest.raises(grpc.RpcError) as info:
        server.async_stub.CreateTask(agent_pb2.CreateTaskRequest(template=template), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert repr(field) in (info.value.details() or "")
    sync = make_template("echo_sync", custom=custom)
    with pytest.raises(grpc.RpcError) as info:
        server.async_stub.CreateTask(agent_pb2.CreateTaskRequest(template=sync), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_inputs_of_the_wrong_type_are_invalid_argument_naming_both_types(
    server: RunningServer,
) -> None:
    declared = make_template("hold_async", inputs={"count": int}, custom={"seconds": 0})
    wrong = make_inputs(make_template("x", inputs={"count": str}), {"count": "three"})
    with pytest.raises(grpc.RpcError) as info:
        server.async_stub.CreateTask(
            agent_pb2.CreateTaskRequest(template=declared, inputs=wrong), timeout=10
        )
    details = info.value.details() or ""
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'count'" in details and "integer" in details and "string" in details
    ok = make_inputs(declared, {"count": 3})
    server.async_stub.CreateTask(
        agent_pb2.CreateTaskRequest(template=declared, inputs=ok), timeout=10
    )


def test_offloaded_inputs_are_not_type_checked(server: RunningServer) -> None:
    declared = make_template("hold_async", inputs={"count": int}, custom={"seconds": 0})
    offloaded = literals_pb2.LiteralMap()
    offloaded.literals["count"].offloaded_metadata.uri = "s3://bucket/inputs/count"
    server.async_stub.CreateTask(
        agent_pb2.CreateTaskRequest(template=declared, inputs=offloaded), timeout=10
    )


# -- 20.11 CreateTask never returns what GetTask refuses -----------------------------------


def test_a_resource_meta_too_large_for_get_task_is_refused_at_create(
    server: RunningServer,
) -> None:
    small = make_template("big_meta", custom={"pad": 60_000})
    created = server.async_stub.CreateTask(agent_pb2.CreateTaskRequest(template=small))
    server.async_stub.GetTask(
        agent_pb2.GetTaskRequest(task_type="big_meta", resource_meta=created.resource_meta)
    )
    big = make_template("big_meta", custom={"pad": 70_000})
    with pytest.raises(grpc.RpcError) as info:
        server.async_stub.CreateTask(agent_pb2.CreateTaskRequest(template=big), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "65536 bytes GetTask accepts" in (info.value.details() or "")


# -- issue 25: bursts ----------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["v1", "v2"])
@pytest.mark.parametrize("kind", ["create", "get"])
def test_a_burst_of_5000_unary_calls_on_one_connection_loses_none(
    server: RunningServer, kind: str, protocol: str
) -> None:
    result = burst(server.address, 5000, kind, protocol=protocol)
    assert result.codes == {"OK": 5000}


def test_a_burst_of_2000_execute_task_sync_streams_loses_none(server: RunningServer) -> None:
    result = burst(server.address, 2000, "sync", seconds=2.0, pid=server.process.pid)
    assert result.codes == {"OK": 2000}
    assert result.peak_rss - result.baseline_rss <= 64 * MIB


def test_max_pending_calls_from_the_environment_reaches_grpc(markers: Path) -> None:
    """With ``AGENTHOST_MAX_PENDING_CALLS=100`` grpc cancels part of a 2,000-call burst, as its
    own defaults do with 5,000: the default of 20,000 is what the bursts above rely on."""
    env = {"AGENTHOST_MAX_PENDING_CALLS": "100"}
    with hardened(markers, env=env) as server:  # type: ignore[attr-defined]
        result = burst(server.address, 2000, "create")
        assert result.codes.get("CANCELLED", 0) > 0, result.codes
        assert burst(server.address, 1, "create").codes == {"OK": 1}
        assert server.process.poll() is None


def test_bursts_hold_with_workers(markers: Path) -> None:
    with hardened(markers, "--workers", "2") as server:  # type: ignore[attr-defined]
        assert burst(server.address, 5000, "create").codes == {"OK": 5000}
        assert burst(server.address, 1000, "sync", seconds=1.0).codes == {"OK": 1000}
