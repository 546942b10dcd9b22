"""A small kit for testing agents: start a real ``agenthost serve`` on a free loopback port and
talk to it with flyteidl's stubs, and build task templates and inputs from Python values."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, tasks_pb2
from flyteidl.service import agent_pb2_grpc
from google.protobuf import json_format, struct_pb2

from agenthost.runner import Backoff as Backoff
from agenthost.runner import RunResult as RunResult
from agenthost.runner import Status as Status
from agenthost.server.ports import free_port as free_port
from agenthost.testing.net import Tripwire as Tripwire
from agenthost.testing.net import forbidden_requests as forbidden_requests
from agenthost.testing.net import tripwire as tripwire
from agenthost.testing.net import tripwire_fixture as tripwire_fixture
from agenthost.testing.net import unreachable_endpoint as unreachable_endpoint

SERVING_LINE_PREFIX = "agenthost serving on "
"""The line ``agenthost serve`` prints once it listens, followed by ``HOST:PORT``."""


@dataclass
class RunningServer:
    """A live ``agenthost serve`` subprocess and a channel to it."""

    process: subprocess.Popen[str]
    address: str
    channel: grpc.Channel
    _lines: list[str] = field(default_factory=list, repr=False)

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
        return "".join(self._lines)


@dataclass
class ServerProcess:
    """An ``agenthost serve`` subprocess that has printed its serving line (``start_server``)."""

    process: subprocess.Popen[str]
    address: str
    lines: list[str] = field(default_factory=list, repr=False)
    reader: threading.Thread | None = field(default=None, repr=False)

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self.address.rsplit(":", 1)[1])

    def logs(self) -> str:
        """Everything the server printed (stdout and stderr) so far."""
        return "".join(self.lines)

    def stop(self, timeout: float = 20.0) -> int:
        """Stop and reap the process (see ``stop_process``); return its exit code."""
        code = stop_process(self.process, timeout)
        if self.reader is not None:
            self.reader.join(timeout=5)
        return code


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
) -> ServerProcess:
    """Run ``command`` (an ``agenthost serve`` command line, e.g. ``serve_command()``) in its
    own process group and wait up to ``timeout`` seconds for its serving line.

    ``env`` entries are added to the current environment of the subprocess. If the server
    exits or times out first, it is stopped and ``RuntimeError`` carries the end of its output.
    Another server (an emulator a test starts) works too if it prints ``ready_prefix`` followed
    by its ``HOST:PORT`` once it listens.
    """
    process = subprocess.Popen(
        list(command),
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
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
    return ServerProcess(process=process, address=address, lines=lines, reader=reader)


def stop_process(process: subprocess.Popen[Any], timeout: float = 20.0) -> int:
    """SIGTERM ``process`` (its whole process group), wait up to ``timeout``, then SIGKILL."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode


def serve_command(*extra_args: str) -> list[str]:
    """The command line that starts ``agenthost serve`` with this interpreter on a free
    loopback port, metrics off, plus ``extra_args``."""
    return [
        sys.executable, "-m", "agenthost", "serve",
        "--host", "127.0.0.1", "--port", "0", "--metrics-port", "0",
        *extra_args,
    ]  # fmt: skip


@contextlib.contextmanager
def running_server(
    *extra_args: str,
    env: Mapping[str, str] | None = None,
    startup_timeout: float = 60.0,
    credentials: grpc.ChannelCredentials | None = None,
) -> Iterator[RunningServer]:
    """Start ``python -m agenthost serve`` on a free loopback port (plus ``extra_args``),
    wait until it answers, yield a ``RunningServer``, and stop and reap it afterwards.

    ``env`` entries are added to the current environment of the subprocess.
    """
    server = start_server(serve_command(*extra_args), env, startup_timeout)
    channel: grpc.Channel | None = None
    try:
        if credentials is None:
            channel = grpc.insecure_channel(server.address)
        else:
            channel = grpc.secure_channel(server.address, credentials)
        grpc.channel_ready_future(channel).result(timeout=startup_timeout)
        yield RunningServer(
            process=server.process, address=server.address, channel=channel, _lines=server.lines
        )
    finally:
        if channel is not None:
            channel.close()
        server.stop()


def wait_for(predicate: Any, timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll ``predicate()`` until it returns something truthy; raise ``TimeoutError`` after
    ``timeout`` seconds. Returns the truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(interval)


def make_template(
    task_type: str,
    *,
    inputs: Mapping[str, Any] | None = None,
    outputs: Mapping[str, Any] | None = None,
    custom: Mapping[str, Any] | None = None,
    sql: str | None = None,
    version: int = 0,
    name: str = "test.task",
) -> tasks_pb2.TaskTemplate:
    """A ``TaskTemplate`` for ``task_type`` with an interface built from Python types
    (``{"x": int}``), ``custom`` as a Struct and an optional SQL statement."""
    from agenthost.literals import variable_map

    template = tasks_pb2.TaskTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK,
            project="flytesnacks",
            domain="development",
            name=name,
            version="v1",
        ),
        type=task_type,
        task_type_version=version,
        interface=interface_pb2.TypedInterface(
            inputs=variable_map(inputs or {}), outputs=variable_map(outputs or {})
        ),
    )
    if custom is not None:
        template.custom.CopyFrom(json_format.ParseDict(dict(custom), struct_pb2.Struct()))
    if sql is not None:
        template.sql.CopyFrom(tasks_pb2.Sql(statement=sql, dialect=tasks_pb2.Sql.ANSI))
    return template


def make_inputs(
    template: tasks_pb2.TaskTemplate, values: Mapping[str, Any]
) -> literals_pb2.LiteralMap:
    """Inputs for ``template`` from Python values, typed by its interface."""
    from agenthost.literals import to_literal_map

    return to_literal_map(values, template.interface.inputs)


# -- running a task's whole lifecycle (agenthost.runner) -----------------------------------

TEST_BACKOFF = Backoff(initial=0.01, factor=1.5, maximum=0.25)
"""Polling for tests: quick first polls, never more than a quarter second apart."""


def run_lifecycle(
    agent: Any,
    template: tasks_pb2.TaskTemplate,
    inputs: Mapping[str, Any] | literals_pb2.LiteralMap | None = None,
    *,
    on_status: Callable[[Status], None] | None = None,
    timeout: float = 60.0,
    backoff: Backoff = TEST_BACKOFF,
) -> RunResult:
    """Run ``template`` through ``agent`` in this process as propeller would: ``create`` then
    ``get`` until the phase is terminal (async agents and sensors), or ``do`` (sync agents).

    ``inputs`` are Python values (encoded with the template's interface) or a ``LiteralMap``.
    ``on_status(status)`` sees every ``Status`` as it happens. Returns a ``RunResult``
    (``phase_name``, ``message``, ``outputs`` as Python values, ``statuses``); errors the host
    would send to propeller (``InvalidRequestError``, ``AgentCallError``...) are raised.
    A task still running after ``timeout`` seconds is deleted and ``RunTimeout`` raised.
    Call it from synchronous tests (it runs its own event loop).
    """
    from agenthost.runner import LocalBackend, run_blocking
    from agenthost.runner import make_inputs as encode_inputs
    from agenthost.sensor import BaseSensor, SensorRouter

    agents = [agent]
    if isinstance(agent, BaseSensor) and agent.aliases:
        agents.append(SensorRouter([agent]))
    return run_blocking(
        lambda: LocalBackend.for_agents(agents),
        template,
        encode_inputs(template, inputs),
        on_status=on_status,
        timeout=timeout,
        backoff=backoff,
    )


def run_on_server(
    server: RunningServer | str,
    template: tasks_pb2.TaskTemplate,
    inputs: Mapping[str, Any] | literals_pb2.LiteralMap | None = None,
    *,
    on_status: Callable[[Status], None] | None = None,
    timeout: float = 60.0,
    backoff: Backoff = TEST_BACKOFF,
    credentials: grpc.ChannelCredentials | None = None,
    protocol: str = "v1",
) -> RunResult:
    """``run_lifecycle`` through a running server (a ``RunningServer`` or ``"host:port"``)
    over gRPC, with the calls propeller makes (CreateTask/GetTask/DeleteTask or
    ExecuteTaskSync), or with ``protocol="v2"`` the calls the Flyte 2 executor makes (the
    flyteidl2 connector services: CreateTask/GetTask/DeleteTask, sync agents included). gRPC
    errors are raised as ``agenthost.runner.RemoteCallError``."""
    from agenthost.runner import RemoteBackend, RemoteConnectorBackend, run_blocking
    from agenthost.runner import make_inputs as encode_inputs

    if protocol not in ("v1", "v2"):
        raise ValueError(f"protocol must be v1 or v2, not {protocol!r}")
    backend = RemoteConnectorBackend if protocol == "v2" else RemoteBackend
    address = server if isinstance(server, str) else server.address
    return run_blocking(
        lambda: backend(address, credentials),
        template,
        encode_inputs(template, inputs),
        on_status=on_status,
        timeout=timeout,
        backoff=backoff,
    )


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

    def fixture() -> Iterator[RunningServer]:
        with running_server(*extra_args, env=env, **kwargs) as server:
            yield server

    fixture.__doc__ = f"A running agenthost serve {' '.join(extra_args)}".rstrip() + "."
    return pytest.fixture(scope=scope)(fixture)  # type: ignore[call-overload]


@dataclass(frozen=True)
class CertificateFiles:
    """PEM files made by ``make_certificates``."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_certificates(
    directory: Path, server_names: Sequence[str] = ("localhost", "127.0.0.1")
) -> CertificateFiles:
    """Write a throwaway CA, a server certificate for ``server_names`` (DNS names or IP
    addresses; the first is its common name) and a client certificate, valid for an hour,
    as PEM files in ``directory``. Needs ``cryptography`` (in ``agenthost[test]``)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def issue(
        subject: str,
        issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
        extensions: Sequence[x509.ExtensionType] = (),
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer[0].subject if issuer else name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), True)
        )
        for extension in extensions:
            builder = builder.add_extension(extension, critical=False)
        return builder.sign(issuer[1] if issuer else key, hashes.SHA256()), key

    def alt_name(name: str) -> x509.GeneralName:
        try:
            return x509.IPAddress(ipaddress.ip_address(name))
        except ValueError:
            return x509.DNSName(name)

    def write(stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        (directory / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (directory / f"{stem}.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    directory.mkdir(parents=True, exist_ok=True)
    ca = issue("agenthost-test-ca", None)
    write("ca", *ca)
    server_usage = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    write("server", *issue(server_names[0], ca, [
        x509.SubjectAlternativeName([alt_name(n) for n in server_names]),
        x509.ExtendedKeyUsage(server_usage),
    ]))  # fmt: skip
    write(
        "client", *issue("client", ca, [x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])])
    )
    return CertificateFiles(
        ca=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
    )
