"""Attacks and bursts against a running ``agenthost serve``, shared by the hardening tests
(``test_hardening.py``) and the reliability session, which runs them at full size and prints
their figures: memory bursts with the server's peak RSS, health during saturation,
handshake-less connections, and bursts of calls at once on one connection."""

from __future__ import annotations

import asyncio
import collections
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from flyteidl.admin import agent_pb2
from flyteidl.core import literals_pb2, tasks_pb2
from flyteidl.service import agent_pb2_grpc

from agenthost.testing import ServerProcess, make_inputs, make_template, serve_command, start_server

MIB = 1024 * 1024
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
CREATE = "/flyteidl.service.AsyncAgentService/CreateTask"
GET = "/flyteidl.service.AsyncAgentService/GetTask"
EXECUTE = "/flyteidl.service.SyncAgentService/ExecuteTaskSync"
CREATE_V2 = "/flyteidl2.connector.AsyncConnectorService/CreateTask"
GET_V2 = "/flyteidl2.connector.AsyncConnectorService/GetTask"
LIST_V2 = "/flyteidl2.connector.ConnectorMetadataService/ListConnectors"
GET_CONNECTOR_V2 = "/flyteidl2.connector.ConnectorMetadataService/GetConnector"


def create_request(
    template: tasks_pb2.TaskTemplate, inputs: literals_pb2.LiteralMap | None, protocol: str
) -> tuple[str, bytes]:
    """The CreateTask method path and serialized request for ``protocol`` (``v1``/``v2``)."""
    if protocol == "v1":
        request = agent_pb2.CreateTaskRequest(template=template)
        if inputs is not None:
            request.inputs.CopyFrom(inputs)
        return CREATE, request.SerializeToString()
    from flyteidl2.connector import connector_pb2 as c2
    from flyteidl2.core import literals_pb2 as lit2
    from flyteidl2.core import tasks_pb2 as tasks2

    request2 = c2.CreateTaskRequest(
        template=tasks2.TaskTemplate.FromString(template.SerializeToString())
    )
    for name, literal in inputs.literals.items() if inputs is not None else ():
        request2.inputs.literals.add(
            name=name, value=lit2.Literal.FromString(literal.SerializeToString())
        )
    return CREATE_V2, request2.SerializeToString()


def get_request(task_type: str, meta: bytes, protocol: str) -> tuple[str, bytes]:
    """The GetTask method path and serialized request for ``protocol``."""
    if protocol == "v1":
        request = agent_pb2.GetTaskRequest(
            task_category=agent_pb2.TaskCategory(name=task_type), resource_meta=meta
        )
        return GET, request.SerializeToString()
    from flyteidl2.connector import connector_pb2 as c2

    request2 = c2.GetTaskRequest(task_category=c2.TaskCategory(name=task_type), resource_meta=meta)
    return GET_V2, request2.SerializeToString()


def rss_bytes(pid: int) -> int:
    """Resident set size of process ``pid``."""
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else 0


@contextmanager
def peak_rss(pid: int, interval: float = 0.01) -> Iterator[list[int]]:
    """Sample ``pid``'s RSS in a thread while the block runs; the list's max is the peak."""
    samples = [rss_bytes(pid)]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append(rss_bytes(pid))
            stop.wait(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()
        samples.append(rss_bytes(pid))


def codes_of(results: list[object]) -> dict[str, int]:
    """Count outcomes: ``OK`` or the status code name of each ``grpc.RpcError``."""
    counts: collections.Counter[str] = collections.Counter()
    for result in results:
        if isinstance(result, grpc.RpcError):
            counts[result.code().name] += 1
        elif isinstance(result, BaseException):
            counts[type(result).__name__] += 1
        else:
            counts["OK"] += 1
    return dict(counts)


@dataclass
class MemoryBurst:
    """Outcome of concurrent large requests."""

    peak_rss: int
    baseline_rss: int
    codes: dict[str, int]
    details: set[str] = field(default_factory=set)


def memory_burst(
    address: str,
    pid: int,
    calls: int,
    input_bytes: int,
    hold: float = 1.0,
    protocol: str = "v1",
) -> MemoryBurst:
    """``calls`` concurrent CreateTask (task type ``hold_async``, ``hold`` seconds each)
    carrying a string input of ``input_bytes``, all sent at once on one channel."""
    template = make_template("hold_async", inputs={"blob": str}, custom={"seconds": hold})
    path, request = create_request(
        template, make_inputs(template, {"blob": "x" * input_bytes}), protocol
    )
    options = [("grpc.max_send_message_length", 2 * input_bytes + MIB)]
    with grpc.insecure_channel(address, options=options) as channel:
        create = channel.unary_unary(path)
        baseline = rss_bytes(pid)
        with peak_rss(pid) as samples:
            futures = [create.future(request, timeout=120) for _ in range(calls)]
            results: list[object] = []
            for future in futures:
                try:
                    results.append(future.result())
                except grpc.RpcError as exc:
                    results.append(exc)
    details = {r.details() or "" for r in results if isinstance(r, grpc.RpcError)}
    return MemoryBurst(max(samples), baseline, codes_of(results), details)


def open_silent_connections(address: str, count: int) -> list[socket.socket]:
    """``count`` TCP connections that never complete the HTTP/2 handshake: half send
    nothing, half only the first 10 bytes of the preface."""
    host, port = address.rsplit(":", 1)
    sockets = []
    for i in range(count):
        sock = socket.create_connection((host.strip("[]"), int(port)))
        if i % 2:
            sock.sendall(HTTP2_PREFACE[:10])
        sockets.append(sock)
    return sockets


def still_open(sockets: list[socket.socket]) -> int:
    """How many of ``sockets`` the server has not closed (reads what it sent, non-blocking)."""
    open_count = 0
    for sock in sockets:
        sock.setblocking(False)
        try:
            while True:
                chunk = sock.recv(65536)
                if chunk == b"":
                    break
        except BlockingIOError:
            open_count += 1
        except OSError:
            pass
    return open_count


@dataclass
class Burst:
    """Outcome of a burst of calls at once."""

    codes: dict[str, int]
    seconds: float
    p99: float
    peak_rss: int = 0
    baseline_rss: int = 0


def _p99(latencies: list[float]) -> float:
    if not latencies:
        return 0.0
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def _burst(
    address: str, calls: int, kind: str, seconds: float, timeout: float, protocol: str
) -> Burst:
    async with grpc.aio.insecure_channel(address) as channel:
        if kind == "sync":
            template = make_template("sleep_sync", custom={"seconds": seconds})
            header = agent_pb2.ExecuteTaskSyncRequest(
                header=agent_pb2.CreateRequestHeader(template=template)
            ).SerializeToString()
            inputs = agent_pb2.ExecuteTaskSyncRequest(
                inputs=make_inputs(template, {})
            ).SerializeToString()
            execute = channel.stream_stream(EXECUTE)

            async def one() -> object:
                call = execute(timeout=timeout)
                await call.write(header)
                await call.write(inputs)
                await call.done_writing()
                return await call.read()

        else:
            template = make_template("fast_async", inputs={"x": int})
            create_path, create = create_request(
                template, make_inputs(template, {"x": 2}), protocol
            )
            meta = agent_pb2.CreateTaskResponse.FromString(  # v2's answer has the same field 1
                await channel.unary_unary(create_path)(create, timeout=timeout)
            ).resource_meta
            get_path, get = get_request("fast_async", meta, protocol)
            method = channel.unary_unary(create_path if kind == "create" else get_path)
            payload = create if kind == "create" else get

            async def one() -> object:
                return await method(payload, timeout=timeout)

        latencies: list[float] = []

        async def timed() -> object:
            began = time.perf_counter()
            try:
                return await one()
            finally:
                latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        results = await asyncio.gather(*(timed() for _ in range(calls)), return_exceptions=True)
        elapsed = time.perf_counter() - began
    return Burst(codes_of(list(results)), elapsed, _p99(latencies))


def burst(
    address: str,
    calls: int,
    kind: str = "create",
    *,
    seconds: float = 0.0,
    timeout: float = 120.0,
    pid: int | None = None,
    protocol: str = "v1",
) -> Burst:
    """``calls`` calls at once on one connection from a Python ``grpc.aio`` client: ``kind``
    ``create`` (CreateTask of ``fast_async``), ``get`` (GetTask) or ``sync`` (ExecuteTaskSync
    streams of ``sleep_sync`` taking ``seconds``; v1 only), over ``protocol``. With ``pid``,
    the server's peak RSS too."""
    if pid is None:
        return asyncio.run(_burst(address, calls, kind, seconds, timeout, protocol))
    baseline = rss_bytes(pid)
    with peak_rss(pid, 0.05) as samples:
        result = asyncio.run(_burst(address, calls, kind, seconds, timeout, protocol))
    result.peak_rss, result.baseline_rss = max(samples), baseline
    return result


def saturate(
    address: str, calls: int, seconds: float
) -> tuple[list[grpc.Future], Callable[[], grpc.Future]]:
    """Start ``calls`` CreateTask of ``hold_async`` that each take ``seconds``; also return
    how to start one more (to replace a call that lost its slot to a concurrent call)."""
    channel = grpc.insecure_channel(address)
    stub = agent_pb2_grpc.AsyncAgentServiceStub(channel)
    template = make_template("hold_async", custom={"seconds": seconds})
    request = agent_pb2.CreateTaskRequest(template=template)

    def hold() -> grpc.Future:
        return stub.CreateTask.future(request, timeout=seconds + 30)

    return [hold() for _ in range(calls)], hold


@dataclass
class Saturation:
    """What answered while every agent-call slot was taken."""

    health_serving: int
    metadata_ok: int
    connectors_ok: int
    health_command_exit: int
    shed_code: str
    shed_details: str


def during_saturation(address: str, limit: int, rounds: int = 5, v2: bool = True) -> Saturation:
    """Take all ``limit`` agent-call slots with 30 s ``hold_async`` calls, then ask health
    (``rounds`` Checks), ListAgents and GetAgent (and with ``v2`` ListConnectors and
    GetConnector; ``rounds`` each), run ``agenthost health`` once, and make one more agent
    call, which must be shed."""
    import subprocess

    from grpc_health.v1 import health_pb2, health_pb2_grpc

    held, hold = saturate(address, limit, 30.0)
    with grpc.insecure_channel(address) as channel:
        stub = agent_pb2_grpc.AsyncAgentServiceStub(channel)
        extra = agent_pb2.CreateTaskRequest(
            template=make_template("hold_async", custom={"seconds": 0})
        )
        deadline = time.monotonic() + 30
        shed: grpc.RpcError | None = None
        while shed is None and time.monotonic() < deadline:
            for index, future in enumerate(held):
                if future.done():  # shed because a probe had its slot: take one again
                    held[index] = hold()
            try:  # succeeds at once while a slot is still free: poll with a deadline
                stub.CreateTask(extra, timeout=5)
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    shed = exc
        health = health_pb2_grpc.HealthStub(channel)
        metadata = agent_pb2_grpc.AgentMetadataServiceStub(channel)
        serving = sum(
            health.Check(health_pb2.HealthCheckRequest(), timeout=5).status
            == health_pb2.HealthCheckResponse.SERVING
            for _ in range(rounds)
        )
        metadata_ok = 0
        for _ in range(rounds):
            metadata_ok += bool(metadata.ListAgents(agent_pb2.ListAgentsRequest(), timeout=5))
            metadata_ok += bool(
                metadata.GetAgent(agent_pb2.GetAgentRequest(name="HoldAgent"), timeout=5)
            )
        connectors_ok = 0
        if v2:
            from flyteidl2.connector import connector_pb2 as c2

            listing = c2.ListConnectorsRequest().SerializeToString()
            by_name = c2.GetConnectorRequest(name="HoldAgent").SerializeToString()
            for _ in range(rounds):
                connectors_ok += bool(channel.unary_unary(LIST_V2)(listing, timeout=5))
                connectors_ok += bool(channel.unary_unary(GET_CONNECTOR_V2)(by_name, timeout=5))
        command = subprocess.run(
            [sys.executable, "-m", "agenthost", "health", "--endpoint", address],
            capture_output=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    for future in held:
        future.cancel()
    return Saturation(
        serving,
        metadata_ok,
        connectors_ok,
        command.returncode,
        shed.code().name if shed is not None else "none",
        (shed.details() or "") if shed is not None else "",
    )


HTTP2_EMPTY_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def idle_connection_closed_after(address: str, timeout: float) -> float | None:
    """Open a connection that completes the HTTP/2 handshake and makes no call; seconds until
    the server closed it, or None if it was still open after ``timeout``."""
    host, port = address.rsplit(":", 1)
    began = time.monotonic()
    with socket.create_connection((host.strip("[]"), int(port))) as sock:
        sock.sendall(HTTP2_PREFACE + HTTP2_EMPTY_SETTINGS)
        sock.settimeout(timeout)
        try:
            while sock.recv(65536):
                pass
        except TimeoutError:
            return None
        except OSError:
            pass
    return time.monotonic() - began


def _on_port(port: int, *args: str) -> list[str]:
    command = serve_command(*args)
    command[command.index("--port") + 1] = str(port)
    return command


def start_on_port(port: int, env: dict[str, str], *args: str) -> ServerProcess:
    """``agenthost serve`` on ``port`` (plus ``args``), once it serves."""
    return start_server(_on_port(port, *args), env)


def serve_on_taken_port(port: int, env: dict[str, str], *args: str) -> tuple[int, str, float]:
    """Run ``agenthost serve`` on ``port``, which another server holds: its exit code, its
    stderr and how many seconds it took to give up."""
    began = time.monotonic()
    done = subprocess.run(
        _on_port(port, *args),
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    return done.returncode, done.stderr, time.monotonic() - began


def threads_of(pid: int) -> int:
    """How many threads process ``pid`` has."""
    return len(os.listdir(f"/proc/{pid}/task"))


def hold_slow_connections(port: int, count: int, host: str = "127.0.0.1") -> list[socket.socket]:
    """``count`` connections to an HTTP listener that each send half a request line and then
    nothing (slowloris)."""
    held = []
    for _ in range(count):
        sock = socket.create_connection((host, port), timeout=5)
        sock.sendall(b"GET /metr")
        held.append(sock)
    return held


def left_open(held: list[socket.socket], timeout: float) -> int:
    """Close ``held`` after waiting up to ``timeout`` seconds in all for the server to close
    each one without an answer; how many it answered or left open."""
    deadline = time.monotonic() + timeout
    remaining = 0
    for sock in held:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            remaining += sock.recv(1024) != b""
        except ConnectionResetError:
            pass
        except TimeoutError:
            remaining += 1
        finally:
            sock.close()
    return remaining


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (from ``/proc/<pid>/task/<tid>/children``)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").iterdir():
            with suppress(OSError):
                queue.extend(int(child) for child in (task / "children").read_text().split())
    return found


def _listening_sockets() -> dict[str, tuple[str, int]]:
    """Listening TCP sockets of this network namespace: ``{inode: (address, port)}``."""
    found = {}
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            if fields[3] != "0A":  # TCP_LISTEN
                continue
            address, port = fields[1].split(":")
            packed = bytes.fromhex(address)
            # /proc prints each 32-bit word of the address in host (little-endian) order
            words = b"".join(packed[i : i + 4][::-1] for i in range(0, len(packed), 4))
            host = socket.inet_ntop(family, words).removeprefix("::ffff:")  # v4-mapped
            found[fields[9]] = (host, int(port, 16))
    return found


def listening_addresses(pids: list[int]) -> set[tuple[str, int]]:
    """Every ``(address, port)`` the processes ``pids`` listen on (what ``ss -ltnp`` shows
    for them)."""
    listening = _listening_sockets()
    found = set()
    for process in pids:
        with suppress(OSError):
            for fd in Path(f"/proc/{process}/fd").iterdir():
                with suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:[") and target[8:-1] in listening:
                        found.add(listening[target[8:-1]])
    return found


@contextmanager
def relay_from(source: str, target: str) -> Iterator[str]:
    """A TCP relay on ``127.0.0.1`` whose connections reach ``target`` (``HOST:PORT``) from the
    address ``source`` (another loopback address, such as ``127.0.0.2``): a second client the
    server sees at another address. Yields the relay's ``HOST:PORT``."""
    host, port = target.rsplit(":", 1)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()
    sockets: list[socket.socket] = []

    def pump(src: socket.socket, dst: socket.socket) -> None:
        with suppress(OSError):
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        with suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def accept() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            upstream = socket.create_connection((host, int(port)), source_address=(source, 0))
            sockets.extend((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pump, args=(a, b), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        acceptor.join(5)
        listener.close()
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def stalled_calls(
    address: str, method: str, count: int
) -> tuple[list[grpc.Future], Callable[[], None]]:
    """``count`` calls of ``method`` (stream-unary on the wire, as the server serves agent
    calls) that send headers and then no request; and how to end them (cancel every call and
    close the channel)."""
    channel = grpc.insecure_channel(address)
    call = channel.stream_unary(method)
    release = threading.Event()

    def nothing() -> Iterator[bytes]:
        release.wait(120)
        return
        yield  # a request iterator that yields nothing

    calls = [call.future(nothing(), timeout=120) for _ in range(count)]

    def end() -> None:
        release.set()
        for future in calls:
            future.cancel()
        channel.close()

    return calls, end
