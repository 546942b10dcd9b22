"""A real ``agenthost serve`` as a subprocess: start it on a free loopback port, wait for its
serving line, talk to it with flyteidl's stubs, read what it printed, and stop and reap it
(its whole process group) afterwards; if the starting process ends first, so does the server
(``agenthost.testing.cleanup``)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from flyteidl.service import agent_pb2_grpc

from agenthost.run.channels import open_channel
from agenthost.server.process import SERVING_PREFIX
from agenthost.testing.cleanup import exit_with_parent, signal_group, track, untrack

SERVING_LINE_PREFIX = f"{SERVING_PREFIX} "
"""The line ``agenthost serve`` prints once it listens, followed by ``HOST:PORT``."""


@dataclass
class ServerProcess:
    """A server subprocess that has printed its serving line (``start_server``,
    ``running_server``): its address, what it printed, and a gRPC channel to it made on first
    use (with ``credentials`` if it serves TLS)."""

    process: subprocess.Popen[str]
    address: str
    lines: list[str] = field(default_factory=list, repr=False)
    reader: threading.Thread | None = field(default=None, repr=False)
    credentials: grpc.ChannelCredentials | None = field(default=None, repr=False)
    _channel: grpc.Channel | None = field(default=None, repr=False)

    @property
    def channel(self) -> grpc.Channel:
        """A channel to the server, closed by ``stop()``."""
        if self._channel is None:
            self._channel = open_channel(self.address, self.credentials)
        return self._channel

    @property
    def async_stub(self) -> agent_pb2_grpc.AsyncAgentServiceStub:
        """A stub for ``AsyncAgentService``."""
        return agent_pb2_grpc.AsyncAgentServiceStub(self.channel)

    @property
    def sync_stub(self) -> agent_pb2_grpc.SyncAgentServiceStub:
        """A stub for ``SyncAgentService``."""
        return agent_pb2_grpc.SyncAgentServiceStub(self.channel)

    @property
    def metadata_stub(self) -> agent_pb2_grpc.AgentMetadataServiceStub:
        """A stub for ``AgentMetadataService``."""
        return agent_pb2_grpc.AgentMetadataServiceStub(self.channel)

    @property
    def health_stub(self) -> Any:
        """A stub for the standard ``grpc.health.v1.Health`` service."""
        from grpc_health.v1 import health_pb2_grpc

        return health_pb2_grpc.HealthStub(self.channel)

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self.address.rsplit(":", 1)[1])

    def logs(self) -> str:
        """Everything the server printed (stdout and stderr) so far."""
        return "".join(self.lines)

    def stop(self, timeout: float = 20.0) -> int:
        """Close the channel, stop and reap the process (see ``stop_process``); return its
        exit code."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        code = stop_process(self.process, timeout)
        if self.reader is not None:
            self.reader.join(timeout=5)
        return code


RunningServer = ServerProcess
"""The name ``running_server`` and the fixtures have always used for ``ServerProcess``."""


def _pump(stream: Any, lines: list[str], ready: threading.Event, prefix: str) -> None:
    for line in stream:
        lines.append(line)
        if line.startswith(prefix):
            ready.set()
    ready.set()


def start_server(
    command: Sequence[str],
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    *,
    ready_prefix: str = SERVING_LINE_PREFIX,
    credentials: grpc.ChannelCredentials | None = None,
) -> ServerProcess:
    """Run ``command`` (an ``agenthost serve`` command line, e.g. ``serve_command()``) in its
    own process group and wait up to ``timeout`` seconds for its serving line.

    ``env`` entries are added to the current environment of the subprocess. If the server
    exits or times out first, it is stopped and ``RuntimeError`` carries the end of its output.
    Another server (an emulator a test starts) works too if it prints ``ready_prefix`` followed
    by its ``HOST:PORT`` once it listens. The caller stops it (``ServerProcess.stop``); if this
    process exits or is terminated (SIGTERM, SIGHUP) first, the server is stopped then; on
    Linux, a server started from the main thread also gets SIGTERM if this process is killed
    (``agenthost.testing.cleanup``).
    """
    process = subprocess.Popen(
        exit_with_parent(command),
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="backslashreplace",  # what a plugin prints need not be UTF-8
        start_new_session=True,
    )
    track(process)
    lines: list[str] = []
    ready = threading.Event()
    reader = threading.Thread(
        target=_pump, args=(process.stdout, lines, ready, ready_prefix), daemon=True
    )
    reader.start()
    ready.wait(timeout)
    serving = next((line for line in lines if line.startswith(ready_prefix)), None)
    if serving is None:
        stop_process(process)
        reader.join(timeout=5)
        what = "agenthost serve" if ready_prefix == SERVING_LINE_PREFIX else command[0]
        raise RuntimeError(f"{what} did not start:\n" + "".join(lines)[-4000:])
    address = serving[len(ready_prefix) :].split()[0]
    return ServerProcess(
        process=process, address=address, lines=lines, reader=reader, credentials=credentials
    )


def stop_process(process: subprocess.Popen[Any], timeout: float = 20.0) -> int:
    """SIGTERM ``process`` (its whole process group if it leads one, as processes started with
    ``start_new_session=True`` do), wait up to ``timeout``, then SIGKILL; return its exit code."""
    if process.poll() is None:
        signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            signal_group(process, signal.SIGKILL)
            process.wait()
    untrack(process)
    return process.returncode


def serve_command(*extra_args: str, python: str = sys.executable) -> list[str]:
    """The command line that starts ``agenthost serve`` with ``python`` (this interpreter by
    default) on a free loopback port, metrics off, plus ``extra_args``."""
    return [
        python, "-m", "agenthost", "serve",
        "--host", "127.0.0.1", "--port", "0", "--metrics-port", "0",
        *extra_args,
    ]  # fmt: skip


@contextlib.contextmanager
def serving(
    command: Sequence[str],
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    *,
    credentials: grpc.ChannelCredentials | None = None,
) -> Iterator[ServerProcess]:
    """``start_server`` for a ``with`` block: the process is stopped and reaped on exit."""
    server = start_server(command, env, timeout, credentials=credentials)
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def running_server(
    *extra_args: str,
    env: Mapping[str, str] | None = None,
    startup_timeout: float = 60.0,
    credentials: grpc.ChannelCredentials | None = None,
) -> Iterator[ServerProcess]:
    """Start ``python -m agenthost serve`` on a free loopback port (plus ``extra_args``),
    wait until its channel is ready, yield the ``ServerProcess``, and stop and reap it
    afterwards.

    ``env`` entries are added to the current environment of the subprocess.
    """
    command = serve_command(*extra_args)
    with serving(command, env, startup_timeout, credentials=credentials) as server:
        grpc.channel_ready_future(server.channel).result(timeout=startup_timeout)
        yield server


def server_fixture(
    *extra_args: str,
    env: Mapping[str, str] | None = None,
    scope: str = "session",
    **kwargs: Any,
) -> Any:
    """A pytest fixture that yields a ``running_server(*extra_args, env=env, **kwargs)``,
    started once per ``scope``. Assign it to a name in your ``conftest.py``::

        from agenthost.testing import server_fixture

        agent_server = server_fixture("--allow", "agent-acme")
    """
    import pytest

    def fixture() -> Iterator[ServerProcess]:
        with running_server(*extra_args, env=env, **kwargs) as server:
            yield server

    fixture.__doc__ = f"A running agenthost serve {' '.join(extra_args)}".rstrip() + "."
    return pytest.fixture(scope=scope)(fixture)  # type: ignore[call-overload]
