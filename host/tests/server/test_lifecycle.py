"""Shutdown, replicas and worker processes of ``agenthost serve``."""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import agent_pb2
from flyteidl.core import execution_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from server_test_kit import server_env, test_server

from agenthost.literals import literal_map_to_python
from agenthost.server.process import SERVING_PREFIX
from agenthost.testing import (
    RunningServer,
    make_inputs,
    make_template,
    running_server,
    serve_command,
    stop_process,
    wait_for,
)


def _create(server: RunningServer, template, inputs=None, timeout: float = 20):  # type: ignore[no-untyped-def]
    request = agent_pb2.CreateTaskRequest(template=template)
    if inputs is not None:
        request.inputs.CopyFrom(inputs)
    return server.async_stub.CreateTask(request, timeout=timeout)


def _refused(server: RunningServer) -> bool:
    try:
        server.metadata_stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=2)
    except grpc.RpcError as error:
        return bool(error.code() == grpc.StatusCode.UNAVAILABLE)
    return False


def test_sigterm_lets_in_flight_call_finish(markers: Path) -> None:
    with test_server(markers, "--grace-period", "20") as server:
        health = health_pb2_grpc.HealthStub(server.channel)
        watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=60)
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        slow = make_template("slow_async", custom={"seconds": 3, "tag": "sigterm"})
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pending = pool.submit(_create, server, slow)
            wait_for(lambda: (markers / "started-sigterm").exists(), timeout=20)
            server.process.send_signal(signal.SIGTERM)
            assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
            watch.cancel()
            wait_for(lambda: _refused(server), timeout=10)
            assert not pending.done()
            assert json.loads(pending.result(timeout=20).resource_meta)["job_id"] == "sigterm"
        assert server.process.wait(timeout=20) == 0
        assert (markers / "finished-sigterm").exists()
    # Agents' aclose() ran once the server stopped: async (FastAgent) and blocking (PathSensor).
    assert (markers / "closed-FastAgent").exists()
    assert (markers / "closed-PathSensor").exists()


def test_task_moves_between_replicas(markers: Path) -> None:
    with test_server(markers) as first, test_server(markers) as second:
        fast = make_template("fast_async", inputs={"x": int}, outputs={"y": int})
        meta = _create(first, fast, make_inputs(fast, {"x": 5})).resource_meta
        got = second.async_stub.GetTask(
            agent_pb2.GetTaskRequest(task_type="fast_async", resource_meta=meta), timeout=10
        )
        assert literal_map_to_python(got.resource.outputs) == {"y": 10}
        second.async_stub.DeleteTask(
            agent_pb2.DeleteTaskRequest(task_type="fast_async", resource_meta=meta), timeout=10
        )

        echo = make_template("echo_sync", inputs={"prompt": str}, outputs={"out": str})
        meta = _create(first, echo, make_inputs(echo, {"prompt": "replica"})).resource_meta
        category = agent_pb2.TaskCategory(name="echo_sync", version=0)
        got = second.async_stub.GetTask(
            agent_pb2.GetTaskRequest(task_category=category, resource_meta=meta), timeout=10
        )
        assert got.resource.phase == execution_pb2.TaskExecution.SUCCEEDED
        assert literal_map_to_python(got.resource.outputs) == {"out": "REPLICA"}
        second.async_stub.DeleteTask(
            agent_pb2.DeleteTaskRequest(task_category=category, resource_meta=meta), timeout=10
        )


_WORKER_LINE = re.compile(r"agenthost worker (\d+) pid (\d+) serving")


def _worker_pids(server: RunningServer) -> dict[int, list[int]]:
    pids: dict[int, list[int]] = {}
    for index, pid in _WORKER_LINE.findall(server.logs()):
        pids.setdefault(int(index), []).append(int(pid))
    return pids


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs SO_REUSEPORT (POSIX)")
def test_workers_serve_and_restart(markers: Path) -> None:
    with test_server(markers, "--workers", "2") as server:
        pids = _worker_pids(server)
        assert sorted(pids) == [0, 1]
        for _ in range(4):
            assert server.metadata_stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=10).agents
        victim = pids[0][-1]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: len(_worker_pids(server).get(0, [])) == 2, timeout=30)
        assert _worker_pids(server)[0][-1] != victim
        fast = make_template("fast_async", inputs={"x": int}, outputs={"y": int})
        for _ in range(4):
            assert _create(server, fast, make_inputs(fast, {"x": 1})).resource_meta
        assert stop_process(server.process) == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs SO_REUSEPORT (POSIX)")
def test_a_burst_of_sigterms_stops_a_supervisor_and_its_workers(markers: Path) -> None:
    """Signals that arrive one on another's heels (a pod's SIGTERM, then the kubelet's or an
    operator's): the supervisor's handler once set a ``threading.Event``, and a signal arriving
    while an earlier handler held the Event's lock deadlocked the supervisor, which then never
    stopped its workers (about one burst in three). Three bursts, each on a fresh server."""
    for _ in range(3):
        with test_server(markers, "--workers", "2") as server:
            workers = [pid for pids in _worker_pids(server).values() for pid in pids]
            for _ in range(300):
                if server.process.poll() is not None:
                    break
                server.process.send_signal(signal.SIGTERM)
            # Exiting, the supervisor may meet the last signals with their default action.
            assert server.process.wait(timeout=30) in (0, -signal.SIGTERM)
            wait_for(lambda: not any(map(_running, workers)), timeout=30)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs SO_REUSEPORT (POSIX)")
def test_workers_that_keep_failing_at_start_make_the_supervisor_give_up() -> None:
    """Workers whose plugins fail under ``--strict`` exit at once: the supervisor restarts
    them with a growing backoff, then gives up with exit code 1 (about 4 s)."""
    command = serve_command("--workers", "2", "--strict", "--modules", "no_such_module_23")
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "exited with code 1; restarting in 0.2 s" in result.stderr
    assert "keeps failing at start; giving up" in result.stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs SO_REUSEPORT (POSIX)")
def test_workers_that_never_start_serving_are_killed_and_the_supervisor_gives_up(
    tmp_path: Path,
) -> None:
    """Workers whose plugin import never returns: the supervisor waited for them for ever,
    never announcing the server and never giving up. Now each is killed once it is not serving
    ``--worker-start-timeout`` seconds after its start, which counts as a failure at start:
    after five, the supervisor gives up (about 15 s here) and leaves no worker behind."""
    command = [
        *serve_command("--workers", "2", "--worker-start-timeout", "2"),
        *("--modules", "fake_plugins.hangs_at_import"),
    ]
    env = {**os.environ, **server_env(tmp_path, AGENTHOST_TEST_HANG_AT_IMPORT="1")}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert re.search(
        r"worker [01] \(pid \d+\) is not serving 2 s after its start "
        r"\(--worker-start-timeout\); killing it",
        result.stderr,
    )
    assert re.search(r"worker [01] keeps failing at start; giving up", result.stderr)
    assert SERVING_PREFIX not in result.stdout
    workers = [int(m.name.rsplit("-", 1)[1]) for m in tmp_path.glob("hanging-at-import-*")]
    assert workers  # they did hang in the import
    assert not any(map(_running, workers))


def _listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` has a socket listening on TCP ``port`` (read from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{fields[9]}]")
    with contextlib.suppress(OSError):
        return any(os.readlink(fd) in inodes for fd in Path(f"/proc/{pid}/fd").iterdir())
    return False


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc; Linux's SO_REUSEPORT")
def test_port_0_with_workers_stays_taken_until_the_workers_serve_on_it(tmp_path: Path) -> None:
    """``--port 0 --workers 2``: the supervisor picked a free port and let it go; the workers
    bound it only once they had loaded their plugins (seconds later), and until then any other
    socket could take it (another server, an outgoing connection's local port): the workers
    then kept failing to bind. The supervisor now keeps the port bound meanwhile: a socket
    without ``SO_REUSEPORT`` is refused it (with or without ``SO_REUSEADDR``), and the one port
    announced is the one both workers listen on."""
    import errno
    import socket

    release = tmp_path / "release"
    command = [
        *serve_command("--workers", "2", "--modules", "fake_plugins.basic"),
        *("--modules", "fake_plugins.hangs_at_import"),
    ]
    env = {
        **os.environ,
        **server_env(
            tmp_path, AGENTHOST_TEST_HANG_AT_IMPORT="1", AGENTHOST_TEST_HANG_UNTIL=str(release)
        ),
    }
    log = tmp_path / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:

        def both_loading() -> list[int]:
            found = list(tmp_path.glob("hanging-at-import-*"))
            return [int(m.name.rsplit("-", 1)[1]) for m in found] if len(found) == 2 else []

        loading = wait_for(both_loading, timeout=60)
        environ = Path(f"/proc/{loading[0]}/environ").read_bytes().split(b"\0")
        config = next(v for v in environ if v.startswith(b"AGENTHOST_WORKER_CONFIG="))
        port = json.loads(config.split(b"=", 1)[1])["port"]
        for reuse_address in (False, True):
            with socket.socket() as intruder:
                intruder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, int(reuse_address))
                with pytest.raises(OSError) as refused:
                    intruder.bind(("127.0.0.1", port))
                assert refused.value.errno == errno.EADDRINUSE

        release.touch()
        line = wait_for(
            lambda: next((x for x in log.read_text().splitlines() if "serving on" in x), ""), 60
        )
        assert line == f"agenthost serving on 127.0.0.1:{port}"
        pids = [int(pid) for _, pid in _WORKER_LINE.findall(log.read_text())]
        assert sorted(pids) == sorted(loading)
        for pid in pids:
            wait_for(functools.partial(_listens, pid, port), timeout=10)
        assert stop_process(process) == 0
    finally:
        stop_process(process)


def test_options_from_environment_and_json_logs(markers: Path) -> None:
    env = {
        "AGENTHOST_MODULES": "fake_plugins.basic",
        "AGENTHOST_LOG_FORMAT": "json",
        "AGENTHOST_BLOCK": "nothing-installed,other",
    }
    with running_server(env={**server_env(markers), **env}) as server:
        names = [
            a.name
            for a in server.metadata_stub.ListAgents(
                agent_pb2.ListAgentsRequest(), timeout=10
            ).agents
        ]
        assert "FastAgent" in names
        with pytest.raises(grpc.RpcError) as info:
            _create(server, make_template("failing"))
        correlation = info.value.details().rsplit("correlation id: ", 1)[1].rstrip(")")
        line = wait_for(
            lambda: next((x for x in server.logs().splitlines() if correlation in x), "")
        )
        record = json.loads(line)
        assert record["correlation_id"] == correlation
        assert record["task_type"] == "failing"
        assert record["operation"] == "create"
        assert record["code"] == "INTERNAL"
        assert "Traceback" in record["exc"]


def test_stuck_blocking_call_does_not_block_exit(markers: Path, tmp_path: Path) -> None:
    never = tmp_path / "never-created"
    with test_server(markers, "--grace-period", "0.5") as server:
        blocked = make_template("blocking", custom={"release": str(never)})
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pending = pool.submit(_create, server, blocked)
            wait_for(lambda: (markers / "blocking-started").exists(), timeout=20)
            server.process.send_signal(signal.SIGTERM)
            assert server.process.wait(timeout=20) == 0
            with pytest.raises(grpc.RpcError):
                pending.result(timeout=20)


def _ipv6_loopback() -> bool:
    import socket

    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback")
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_bare_ipv6_host_is_served(markers: Path, workers: str) -> None:
    """``--host ::1`` (no brackets, as ``--host`` is often written): the ports were checked
    and picked for it, but grpc was given ``::1:PORT``, which it reads as a name to resolve, so
    the server exited (a worker kept failing) with "cannot bind ::1:PORT"."""
    from agenthost.testing import free_port

    health_port = free_port("::1")
    with test_server(
        markers, "--host", "::1", "--health-port", str(health_port), "--workers", workers
    ) as server:
        assert server.address.startswith("[::1]:")
        assert server.metadata_stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=10).agents
        with grpc.insecure_channel(f"[::1]:{health_port}") as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=10
            )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_server_stuck_loading_a_plugin_stops_on_sigterm(tmp_path: Path, workers: str) -> None:
    """A plugin whose import never returns: SIGTERM (a pod's deletion) once only set an event
    of the event loop that the import blocks, so the server ignored it and lived until SIGKILL
    (a worker until its supervisor's SIGKILL, ``--grace-period`` plus 5 s later)."""
    command = [
        *serve_command("--workers", workers, "--grace-period", "15"),
        *("--modules", "fake_plugins.hangs_at_import"),
    ]
    env = {**os.environ, **server_env(tmp_path, AGENTHOST_TEST_HANG_AT_IMPORT="1")}
    process = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        wait_for(lambda: len(list(tmp_path.glob("hanging-at-import-*"))) == int(workers), 60)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) in (0, -signal.SIGTERM)
    finally:
        stop_process(process)


def test_an_agent_that_ignores_cancellation_does_not_keep_the_server_alive(
    tmp_path: Path,
) -> None:
    """An agent coroutine that catches ``CancelledError`` and goes on waiting: once the grace
    period was over the server logged "stopped", then waited for that task for ever (a pod
    then waits for its SIGKILL). It now gives such tasks ``CANCEL_TIMEOUT`` seconds."""
    from agenthost.server.process import CANCEL_TIMEOUT

    env = server_env(tmp_path)
    args = ("--modules", "fake_plugins.stubborn", "--grace-period", "1")
    with running_server(*args, env=env) as server, concurrent.futures.ThreadPoolExecutor(1) as pool:
        request = agent_pb2.CreateTaskRequest(template=make_template("stubborn"))
        pending = pool.submit(server.async_stub.CreateTask, request, timeout=60)
        wait_for((tmp_path / "stubborn-started").exists, timeout=20)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=CANCEL_TIMEOUT + 10) == 0
        assert (tmp_path / "stubborn-cancelled").exists()
        assert "task(s) still running 5 s after being cancelled" in server.logs()
        with pytest.raises(grpc.RpcError):
            pending.result(timeout=10)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_plugin_printing_bytes_that_are_not_utf8_does_not_stop_the_output(
    markers: Path, workers: str
) -> None:
    """A plugin that prints Latin-1 text on stdout: the ``--workers`` supervisor's relay of a
    worker's stdout (and the testing kit's reader) decoded it strictly, died of a
    ``UnicodeDecodeError``, and so never saw the serving line: the supervisor never announced
    the server, counted every later worker exit as a failure at start (giving up after five),
    and left the worker's stdout unread (a worker printing more than a pipe holds blocks)."""
    args = ("--modules", "fake_plugins.prints_bytes", "--workers", workers)
    with test_server(markers, *args, startup_timeout=20) as server:
        assert server.metadata_stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=10).agents
    assert "prints_bytes: caf\\xe9 au lait" in server.logs()


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_workers_still_loading_stop_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    """A supervisor SIGKILLed (an OOM kill) while its workers are still loading plugins: a
    worker only watches its supervisor once serving, so one whose plugin import never returns
    lived on for ever, orphaned (found as two such workers left by a test run)."""
    command = [
        *serve_command("--workers", "2"),
        *("--modules", "fake_plugins.hangs_at_import"),
    ]
    env = {**os.environ, **server_env(tmp_path, AGENTHOST_TEST_HANG_AT_IMPORT="1")}
    process = subprocess.Popen(command, env=env, start_new_session=True)
    workers: list[int] = []
    try:

        def both_hanging() -> list[Path]:
            found = list(tmp_path.glob("hanging-at-import-*"))
            return found if len(found) == 2 else []

        markers = wait_for(both_hanging, timeout=60)
        workers = [int(marker.name.rsplit("-", 1)[1]) for marker in markers]
        process.kill()
        process.wait(timeout=10)
        wait_for(lambda: not any(map(_running, workers)), timeout=15)
    finally:
        stop_process(process)
        for pid in workers:  # ours: started by the supervisor this test started
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
