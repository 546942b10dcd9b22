"""The servers the benchmark measures and how to run them: the registry (``server_specs``:
name, interpreter, command line), starting one and timing its cold start (``start``), CPU
pinning, and the client of the load-generator process (``LoadGen``). Names and the agents each
server loads are defined in ``bench/README.md`` ("Servers"); the agents live in ``agents/``."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from flyteidl.admin import agent_pb2
from flyteidl.service import agent_pb2_grpc
from names import (
    C0,
    C0_PLUGINS,
    CEILING,
    CEILING_BOTH,
    CEILING_PENDING,
    CEILING_STREAM_UNARY,
    CEILING_UVLOOP,
    CEILING_V2,
    CEILING_V2_UVLOOP,
    FLYTEKIT,
    FLYTEKIT_PLUGINS,
    ISSUE_11_PLUGINS,
    PROTO_OUTPUTS,
)
from procfs import tree_rss_kb

from agenthost.testing import free_port

HERE = Path(__file__).resolve().parent
AGENTS = HERE / "agents"
"""The measured agents and servers (``--modules`` imports them from here)."""
PINNING: dict[str, set[int]] = {}
"""Under ``--pin``: the CPUs of the servers (``"server"``) and of the load generator
(``"loadgen"``)."""


@dataclass
class ServerSpec:
    """How to start one server: ``argv(port, metrics_port)`` from ``python``."""

    name: str
    python: str
    argv: Callable[[int, int], list[str]]
    description: str
    env: dict[str, str] = field(default_factory=dict)
    cold_start: bool = True
    """Whether the cold-start phase measures this server (variants of one only load it)."""
    pinned: bool = True
    """Whether ``--pin`` confines it to the server CPU (not a multi-process server)."""
    protocol: str = "v1"
    """Which metadata call tells that it serves: ``v1`` ListAgents, ``v2`` ListConnectors."""
    variant_of: str = ""
    """The server this one is an ``--env-variant`` of (it answers the same RPCs)."""


def agenthost_argv(*extra: str, direct: bool = False) -> Callable[[int, int], list[str]]:
    def build(port: int, metrics_port: int) -> list[str]:
        head = [str(AGENTS / "serve_direct.py")] if direct else ["-m", "agenthost", "serve"]
        return [
            *head,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--metrics-port",
            str(metrics_port),
            *extra,
        ]

    return build


def pyflyte_argv(module: str) -> Callable[[int, int], list[str]]:
    """``pyflyte serve connector`` arguments that also import ``module`` (from bench/)."""

    def build(port: int, metrics_port: int) -> list[str]:
        return [
            "serve",
            "connector",
            "--port",
            str(port),
            "--prometheus_port",
            str(metrics_port),
            "--modules",
            module,
        ]

    return build


def pyflyte(python: str) -> str:
    """The ``pyflyte`` beside ``python`` ("" if there is no such venv)."""
    return str(Path(python).parent / "pyflyte") if python else ""


def server_specs(args: argparse.Namespace) -> dict[str, ServerSpec]:
    core, plugins, fk = args.core_python, args.plugins_python, args.flytekit_python

    def c0_argv(port: int, metrics_port: int) -> list[str]:
        return [
            str(AGENTS / "c0_serve.py"),
            "--port",
            str(port),
            "--prometheus_port",
            str(metrics_port),
            "--modules",
            "c0_bench",
        ]

    flytekit_argv = pyflyte_argv("connectors_bench")

    specs = [
        ServerSpec(
            "agenthost",
            core,
            agenthost_argv("--modules", "agents_bench"),
            "python -m agenthost serve --modules agents_bench (host only)",
        ),
        ServerSpec(
            "agenthost+plugins",
            plugins,
            agenthost_argv("--modules", "agents_bench"),
            "same, with the five first-party plugins installed (bigquery, openai, file-sensor, "
            "snowflake, databricks)",
        ),
        ServerSpec(
            ISSUE_11_PLUGINS,
            plugins,
            agenthost_argv(
                "--modules",
                "agents_bench",
                "--allow",
                "agent-bigquery,agent-openai,agent-file-sensor",
                "--protocols",
                "v1",
            ),
            "same venv, loading only issue 11's three plugins (bigquery, openai, file-sensor) "
            "and serving Flyte 1 only, as issue 11 set its cold-start and RSS targets",
        ),
        ServerSpec(
            "agenthost+plugins no-typer",
            plugins,
            agenthost_argv("--modules", "agents_bench", direct=True),
            "prototype: serve without typer (serve_direct.py), plugins installed",
        ),
        ServerSpec(
            "agenthost --workers 2",
            core,
            agenthost_argv("--modules", "agents_bench", "--workers", "2"),
            "python -m agenthost serve --workers 2 (supervisor + 2 processes, not pinned)",
            pinned=False,
        ),
        ServerSpec(
            PROTO_OUTPUTS,
            core,
            agenthost_argv("--modules", "agents_bench"),
            "agenthost whose bench_async get returns a ready flyteidl Resource, not a dict",
            env={"BENCH_OUTPUTS": "proto"},
            cold_start=False,
        ),
        ServerSpec(
            "agenthost 1000 agents",
            core,
            agenthost_argv("--modules", "many_agents"),
            "--modules many_agents: 1,000 generated async agents + the bench agents",
        ),
        ServerSpec(
            FLYTEKIT,
            pyflyte(fk),
            flytekit_argv,
            "pyflyte serve connector --modules connectors_bench (flytekit 1.16)",
        ),
        ServerSpec(
            FLYTEKIT_PLUGINS,
            pyflyte(args.flytekit_plugins_python),
            flytekit_argv,
            "same, with flytekitplugins-bigquery, -openai and -snowflake installed "
            "(flytekit's counterparts of the first-party plugins; its file sensor is "
            "built in), which flytekit imports at start; cold start and RSS only",
        ),
        ServerSpec(
            CEILING,
            core,
            lambda port, mport: [str(AGENTS / "bare_server.py"), "--port", str(port)],
            "bare grpc.aio server on flyteidl's generated servicers (the ceiling)",
        ),
        ServerSpec(
            CEILING_STREAM_UNARY,
            core,
            lambda port, mport: [
                str(AGENTS / "bare_server.py"),
                "--port",
                str(port),
                "--stream-unary",
            ],
            "the ceiling with ExecuteTaskSync served stream-unary, as agenthost serves it",
            cold_start=False,
        ),
        ServerSpec(
            CEILING_V2,
            core,
            lambda port, mport: [str(AGENTS / "bare_server_v2.py"), "--port", str(port)],
            "bare grpc.aio server on flyteidl2's generated connector servicers (the v2 ceiling)",
            protocol="v2",
        ),
        ServerSpec(
            CEILING_BOTH,
            core,
            lambda port, mport: [
                str(AGENTS / "bare_server_v2.py"),
                "--port",
                str(port),
                "--with-v1",
            ],
            "both bare ceilings on one server (v1 and v2 services): the cold-start ceiling of a "
            "host serving both protocols",
        ),
        ServerSpec(
            C0,
            args.flyte2_python,
            c0_argv,
            "flyte-sdk 2.12.1's c0 --modules c0_bench (bench_async as a flyte-sdk connector; "
            "c0_serve.py binds it to 127.0.0.1): the v2 peer",
            protocol="v2",
        ),
        ServerSpec(
            C0_PLUGINS,
            args.flyte2_plugins_python,
            c0_argv,
            "same, with flyteplugins-bigquery, -snowflake and -databricks installed (c0 loads "
            "every installed connector at start); cold start and RSS only",
            protocol="v2",
        ),
    ]
    specs.append(
        ServerSpec(
            CEILING_PENDING,
            core,
            lambda port, mport: [
                str(AGENTS / "bare_server.py"),
                "--port",
                str(port),
                "--max-pending",
                "20000",
            ],
            "the ceiling with grpc's pending-call limits at agenthost's default (20,000)",
            cold_start=False,
        )
    )
    by_name = {s.name: s for s in specs}
    for name, base in ((CEILING_UVLOOP, CEILING), (CEILING_V2_UVLOOP, CEILING_V2)):
        specs.append(
            dataclasses.replace(
                by_name[base],
                name=name,
                description=f"{by_name[base].description}, on uvloop's event loop (as "
                "agenthost serves by default): the same-loop ceiling",
                env={**by_name[base].env, "BENCH_EVENT_LOOP": "uvloop"},
                cold_start=False,
                variant_of=base,
            )
        )
        by_name[name] = specs[-1]
    for variant in args.env_variant:  # a variant may build on an earlier one
        spec = env_variant(variant, by_name)
        specs.append(spec)
        by_name[spec.name] = spec
    if args.patched_host:
        specs.append(
            ServerSpec(
                "agenthost patched",
                core,
                agenthost_argv("--modules", "agents_bench"),
                f"agenthost with the host prototype in {args.patched_host} first on PYTHONPATH",
                env={"PYTHONPATH": f"{args.patched_host}:{AGENTS}"},
            )
        )
    return {s.name: s for s in specs if s.python}


def env_variant(text: str, specs: dict[str, ServerSpec]) -> ServerSpec:
    """The server ``--env-variant NAME=SERVER:KEY=VALUE`` describes: ``SERVER`` started with
    ``KEY=VALUE`` added to its environment, measured as ``NAME`` (not in the cold-start phase).
    ``SERVER`` may be an earlier variant, to set more than one variable."""
    name, _, rest = text.partition("=")
    base_name, _, assignment = rest.partition(":")
    key, _, value = assignment.partition("=")
    base = specs.get(base_name)
    if not (name and key and base):
        raise SystemExit(f"--env-variant {text!r}: want NAME=SERVER:KEY=VALUE, SERVER a server")
    return dataclasses.replace(
        base,
        name=name,
        description=f"{base.description}, with {key}={value}",
        env={**base.env, key: value},
        cold_start=False,
        variant_of=base.variant_of or base.name,
    )


# -- servers ---------------------------------------------------------------------------


@dataclass
class Running:
    spec: ServerSpec
    process: subprocess.Popen[bytes]
    address: str
    cold_start: float
    rss_start_kb: int
    log: Path


def list_agents_once(address: str, timeout: float, protocol: str = "v1") -> bool:
    """One ListAgents (v1) or ListConnectors (v2); whether it listed anything."""
    with grpc.insecure_channel(address) as channel:
        try:
            if protocol == "v2":
                from flyteidl2.connector import connector_pb2, service_pb2_grpc

                stub2 = service_pb2_grpc.ConnectorMetadataServiceStub(channel)
                request = connector_pb2.ListConnectorsRequest()
                return len(stub2.ListConnectors(request, timeout=timeout).connectors) > 0
            stub = agent_pb2_grpc.AgentMetadataServiceStub(channel)
            response = stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=timeout)
        except grpc.RpcError:
            return False
        return len(response.agents) > 0


@contextlib.contextmanager
def pinned_to(role: str | None) -> Iterator[None]:
    """Children spawned inside run on ``role``'s CPUs under ``--pin`` (None: anywhere).

    The spawning thread takes the CPUs for the moment of the spawn and the child inherits them.
    A ``preexec_fn`` would do the same in the child, but it makes ``subprocess`` fork instead
    of vfork, which runs gRPC's fork handlers: with gRPC's threads alive in this process, that
    fork can hang for good (seen in an A/B run)."""
    cpus = PINNING.get(role) if role else None
    if not cpus:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def pin_cpus(wanted: bool | None) -> None:
    """Fill ``PINNING``: servers on the first CPU this process may use, the load generator on
    the second. ``None`` pins when there are at least two CPUs."""
    cpus = sorted(os.sched_getaffinity(0))
    if wanted is False or len(cpus) < 2:
        if wanted:
            log("warning: --pin needs two CPUs; not pinning")
        return
    PINNING.update(server={cpus[0]}, loadgen={cpus[1]})


def pinning_meta() -> dict[str, list[int]]:
    """``PINNING`` as JSON for a results file (empty: not pinned)."""
    return {role: sorted(cpus) for role, cpus in PINNING.items()}


def start(spec: ServerSpec, logdir: Path, deadline_s: float = 60.0) -> Running:
    """Spawn ``spec`` and wait for its first successful ListAgents or ListConnectors (the cold
    start)."""
    port, metrics_port = free_port(), free_port()
    log = logdir / f"{spec.name.replace(' ', '_').replace('/', '_')}-{port}.log"
    # flytekit and flyte-sdk make a sandbox directory in the temporary directory at every
    # start and leave it behind; this one goes with the run's log directory.
    scratch = logdir / f"tmp-{log.stem}"
    scratch.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(AGENTS), "TMPDIR": str(scratch), **spec.env}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    address = f"127.0.0.1:{port}"
    with open(log, "wb") as out, pinned_to("server" if spec.pinned else None):
        began = time.perf_counter()
        process = subprocess.Popen(
            [spec.python, *spec.argv(port, metrics_port)],
            cwd=AGENTS,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = began + deadline_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"{spec.name} exited with {process.returncode}: {log.read_text()[-2000:]}"
            )
        if time.perf_counter() > deadline:
            stop(process)
            raise RuntimeError(f"{spec.name} not serving after {deadline_s}s: {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
        except OSError:
            time.sleep(0.002)
            continue
        if list_agents_once(address, timeout=10.0, protocol=spec.protocol):
            break
        time.sleep(0.002)
    cold = time.perf_counter() - began
    return Running(spec, process, address, cold, tree_rss_kb(process.pid), log)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def started(specs: list[ServerSpec], logdir: Path) -> Iterator[dict[str, Running]]:
    running: dict[str, Running] = {}
    try:
        for spec in specs:
            running[spec.name] = start(spec, logdir)
        yield running
    finally:
        for server in running.values():
            stop(server.process)


# -- load generator --------------------------------------------------------------------


class LoadGen:
    """The ``loadgen.py`` process, one JSON command/answer per line; on the load generator's
    CPU under ``--pin`` unless ``pinned`` is false."""

    def __init__(self, pinned: bool = True) -> None:
        with pinned_to("loadgen" if pinned else None):
            self.process = subprocess.Popen(
                [sys.executable, str(HERE / "loadgen.py")],
                cwd=HERE,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONPATH": str(HERE)},
            )

    def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("load generator died")
        return json.loads(line)  # type: ignore[no-any-return]

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(10)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
