"""agenthost benchmark driver (issues 11 and 19): cold start, RSS, per-call server CPU,
throughput and latency of agenthost against flytekit's connector server, flyte-sdk 2's ``c0``
and bare ``grpc.aio`` ceilings (flyteidl's servicers for v1, flyteidl2's for v2), plus import
time, literal codec throughput, 1,000 agents and ``--workers``.

Servers run from six interpreters (venvs): ``--core-python`` (agenthost only),
``--plugins-python`` (agenthost + the first-party plugins), ``--flytekit-python``
(flytekit[connector] 1.16, never mixed with agenthost), ``--flytekit-plugins-python``
(the same with flytekit's BigQuery, OpenAI and Snowflake plugins: the like-for-like reference for
agenthost with its plugins), ``--flyte2-python`` (flyte[connector] 2.12.1: ``c0``, the v2
peer) and ``--flyte2-plugins-python`` (the same with flyte-sdk's BigQuery, Snowflake and
Databricks connectors). The load generator is a separate process (``loadgen.py``) run by this
interpreter. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from flyteidl.admin import agent_pb2
from flyteidl.service import agent_pb2_grpc
from procfs import tree_rss_kb

HERE = Path(__file__).resolve().parent
RPCS = ("GetTask", "CreateTask", "ExecuteTaskSync", "ListAgents")
RPCS_V2 = ("GetTask v2", "CreateTask v2")
"""The v2 cells (``loadgen.RPCS_V2``): flyteidl2 calls as the Flyte 2 executor makes them."""
CONCURRENCY = (1, 16, 64)
FLYTEKIT = "flytekit"
FLYTEKIT_PLUGINS = "flytekit+plugins"
CEILING = "bare"
CEILING_V2 = "bare v2"
CEILING_BOTH = "bare v1+v2"
C0 = "c0"
C0_PLUGINS = "c0+plugins"
PROTO_OUTPUTS = "agenthost proto outputs"
CEILING_STREAM_UNARY = "bare stream-unary"
CEILING_PENDING = "bare max-pending"
PINNING: dict[str, set[int]] = {}
"""Under ``--pin``: the CPUs of the servers (``"server"``) and of the load generator
(``"loadgen"``)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def agenthost_argv(*extra: str, direct: bool = False) -> Callable[[int, int], list[str]]:
    def build(port: int, metrics_port: int) -> list[str]:
        head = [str(HERE / "serve_direct.py")] if direct else ["-m", "agenthost", "serve"]
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
            str(HERE / "c0_serve.py"),
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
            lambda port, mport: [str(HERE / "bare_server.py"), "--port", str(port)],
            "bare grpc.aio server on flyteidl's generated servicers (the ceiling)",
        ),
        ServerSpec(
            CEILING_STREAM_UNARY,
            core,
            lambda port, mport: [
                str(HERE / "bare_server.py"),
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
            lambda port, mport: [str(HERE / "bare_server_v2.py"), "--port", str(port)],
            "bare grpc.aio server on flyteidl2's generated connector servicers (the v2 ceiling)",
            protocol="v2",
        ),
        ServerSpec(
            CEILING_BOTH,
            core,
            lambda port, mport: [str(HERE / "bare_server_v2.py"), "--port", str(port), "--with-v1"],
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
                str(HERE / "bare_server.py"),
                "--port",
                str(port),
                "--max-pending",
                "20000",
            ],
            "the ceiling with grpc's pending-call limits at agenthost's default (20,000)",
            cold_start=False,
        )
    )
    if args.patched_host:
        specs.append(
            ServerSpec(
                "agenthost patched",
                core,
                agenthost_argv("--modules", "agents_bench"),
                f"agenthost with the host prototype in {args.patched_host} first on PYTHONPATH",
                env={"PYTHONPATH": f"{args.patched_host}:{HERE}"},
            )
        )
    return {s.name: s for s in specs if s.python}


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


def pinned(role: str) -> Callable[[], None] | None:
    """A ``preexec_fn`` that confines the child to ``role``'s CPUs under ``--pin``."""
    cpus = PINNING.get(role)
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


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
    env = {**os.environ, "PYTHONPATH": str(HERE), **spec.env}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    log = logdir / f"{spec.name.replace(' ', '_').replace('/', '_')}-{port}.log"
    address = f"127.0.0.1:{port}"
    with open(log, "wb") as out:
        began = time.perf_counter()
        process = subprocess.Popen(
            [spec.python, *spec.argv(port, metrics_port)],
            cwd=HERE,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=pinned("server") if spec.pinned else None,
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
    """The ``loadgen.py`` process, one JSON command/answer per line."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "loadgen.py")],
            cwd=HERE,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(HERE)},
            preexec_fn=pinned("loadgen"),
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


# -- phases ----------------------------------------------------------------------------


def phase_cold_start(specs: list[ServerSpec], runs: int, logdir: Path) -> dict[str, Any]:
    """``runs`` cold starts of each server, alternating the order each run."""
    samples: dict[str, list[float]] = {s.name: [] for s in specs}
    rss: dict[str, list[int]] = {s.name: [] for s in specs}
    for run in range(runs):
        order = specs if run % 2 == 0 else list(reversed(specs))
        for spec in order:
            server = start(spec, logdir)
            stop(server.process)
            samples[spec.name].append(server.cold_start)
            rss[spec.name].append(server.rss_start_kb)
            log(
                f"  cold start {spec.name}: {server.cold_start * 1000:.0f} ms, "
                f"RSS {server.rss_start_kb / 1024:.1f} MB"
            )
    return {
        name: {
            "median_s": statistics.median(values),
            "min_s": min(values),
            "max_s": max(values),
            "samples_s": values,
            "rss_start_mb": statistics.median(rss[name]) / 1024,
        }
        for name, values in samples.items()
    }


def phase_load(
    specs: dict[str, ServerSpec],
    cells: list[tuple[str, str, int]],
    rounds: int,
    warmup: float,
    duration: float,
    logdir: Path,
) -> dict[str, Any]:
    """Every (server, rpc, concurrency) cell once per round; all servers of a round run side by
    side and the order of servers alternates within each cell and between rounds."""
    names = list(dict.fromkeys(name for name, _, _ in cells))
    results: dict[str, list[dict[str, Any]]] = {}
    rss_after: dict[str, list[int]] = {n: [] for n in names}
    rss_start: dict[str, list[int]] = {n: [] for n in names}
    grouped: dict[tuple[str, int], list[str]] = {}
    for name, rpc, conc in cells:
        grouped.setdefault((rpc, conc), []).append(name)
    loadgen = LoadGen()
    try:
        for rnd in range(rounds):
            with started([specs[n] for n in names], logdir) as running:
                for n, server in running.items():
                    rss_start[n].append(server.rss_start_kb)
                for index, ((rpc, conc), servers) in enumerate(grouped.items()):
                    order = servers if (rnd + index) % 2 == 0 else list(reversed(servers))
                    for name in order:
                        server = running[name]
                        answer = loadgen.ask(
                            {
                                "address": server.address,
                                "pid": server.process.pid,
                                "rpc": rpc,
                                "concurrency": conc,
                                "warmup": warmup,
                                "duration": duration,
                            }
                        )
                        if "error" in answer or answer.get("errors"):
                            log(f"  !! {name} {rpc} c={conc}: {answer}")
                        results.setdefault(f"{name}|{rpc}|{conc}", []).append(answer)
                        log(
                            f"  round {rnd + 1} {name:24s} {rpc:15s} c={conc:<3d} "
                            f"{answer.get('ops', 0):8.0f} ops/s  "
                            f"p50 {answer.get('p50_us', 0):7.0f} us  "
                            f"p99 {answer.get('p99_us', 0):7.0f} us  cpu "
                            f"{answer.get('server_cpu_us', 0):6.0f} us/call"
                        )
                for n, server in running.items():
                    rss_after[n].append(tree_rss_kb(server.process.pid))
                    loadgen.ask({"close": server.address})
    finally:
        loadgen.close()
    cells_out = {}
    for key, answers in results.items():
        good = [a for a in answers if "error" not in a and a.get("calls")]
        if not good:
            cells_out[key] = {"error": answers[-1].get("error", "no calls")}
            continue
        cells_out[key] = {
            metric: statistics.median(a[metric] for a in good)
            for metric in ("ops", "p50_us", "p99_us", "server_cpu_us", "client_cpu_us")
        }
        cells_out[key]["rounds"] = len(good)
        cells_out[key]["errors"] = sum(a.get("errors", 0) for a in answers)
    return {
        "cells": cells_out,
        "rss_start_mb": {n: statistics.median(v) / 1024 for n, v in rss_start.items() if v},
        "rss_after_load_mb": {n: statistics.median(v) / 1024 for n, v in rss_after.items() if v},
    }


BURSTS = (("create", 5000), ("get", 5000), ("sync", 2000))
"""Issue 25's bursts: unary CreateTask and GetTask, and ExecuteTaskSync streams of a slow agent,
each all at once on one connection."""
BURST_SERVERS = ("agenthost", CEILING, CEILING_PENDING, FLYTEKIT)


def phase_bursts(specs: dict[str, ServerSpec], sync_seconds: float, logdir: Path) -> dict[str, Any]:
    """Each burst of ``BURSTS`` against a fresh server of each of ``BURST_SERVERS`` (default
    options; the sync agent takes ``sync_seconds``): calls lost, p99, server RSS after."""
    env = {"BENCH_SYNC_SECONDS": str(sync_seconds)}
    cells: dict[str, Any] = {}
    for name in BURST_SERVERS:
        if name not in specs:
            continue
        spec = specs[name]
        spec = ServerSpec(spec.name, spec.python, spec.argv, spec.description, {**spec.env, **env})
        for kind, count in BURSTS:
            server = start(spec, logdir)
            try:
                outcome = run_json(
                    [sys.executable, str(HERE / "bursts.py"), server.address, kind, str(count)]
                )
                outcome["rss_after_kb"] = tree_rss_kb(server.process.pid)
            finally:
                stop(server.process)
            cells[f"{name}|{kind}"] = outcome
            log(f"  {name:<10} {kind:<7} x{count}: {outcome}")
    return {"sync_seconds": sync_seconds, "cells": cells}


def create_once(address: str, template: Any, inputs: Any) -> bytes:
    """One CreateTask; the ``resource_meta`` of the job it started."""
    request = agent_pb2.CreateTaskRequest(template=template, output_prefix="s3://bench/plugins")
    if inputs is not None:
        request.inputs.CopyFrom(inputs)
    with grpc.insecure_channel(address) as channel:
        stub = agent_pb2_grpc.AsyncAgentServiceStub(channel)
        return bytes(stub.CreateTask(request, timeout=60).resource_meta)


def phase_plugins(
    args: argparse.Namespace, rounds: int, warmup: float, duration: float, logdir: Path
) -> dict[str, Any]:
    """Server CPU per GetTask of a finished job, agenthost's plugin against flytekit's connector
    for the same task type and emulator, for every case in ``plugin_cases.CASES``; the two
    servers alternate within each round."""
    from plugin_cases import CASES, POLLERS

    if not (args.plugins_python and args.flytekit_plugins_python):
        log("  skipped: needs the plugins and flytekit+plugins venvs")
        return {}
    wanted = {c.strip() for c in args.plugin_cases.split(",") if c.strip()}
    results: dict[str, Any] = {"pollers": POLLERS, "cases": {}}
    loadgen = LoadGen()
    try:
        for case in [c for c in CASES if not wanted or c.name in wanted]:
            with tempfile.TemporaryDirectory() as scratch, case.backend(Path(scratch)) as backend:
                ours = ServerSpec(
                    "agenthost", args.plugins_python,
                    agenthost_argv("--allow", case.allow), "", env=backend.env,
                )  # fmt: skip
                theirs = ServerSpec(
                    "flytekit", pyflyte(args.flytekit_plugins_python),
                    pyflyte_argv("plugin_endpoints"), "", env=backend.env,
                )  # fmt: skip
                with started([ours, theirs], logdir) as running:
                    meta = create_once(
                        running["agenthost"].address, backend.template, backend.inputs
                    )
                    category = agent_pb2.TaskCategory(name=case.task_type, version=0)
                    request = agent_pb2.GetTaskRequest(
                        task_type=case.task_type, task_category=category, resource_meta=meta
                    )
                    encoded = base64.b64encode(request.SerializeToString()).decode()
                    answers: dict[str, list[dict[str, Any]]] = {"agenthost": [], "flytekit": []}
                    for rnd in range(rounds):
                        order = ["agenthost", "flytekit"][:: 1 if rnd % 2 == 0 else -1]
                        for name in order:
                            server = running[name]
                            answer = loadgen.ask(
                                {
                                    "address": server.address,
                                    "pid": server.process.pid,
                                    "rpc": "GetTask",
                                    "get_request": encoded,
                                    "concurrency": POLLERS,
                                    "warmup": warmup,
                                    "duration": duration,
                                }
                            )
                            answers[name].append(answer)
                            log(
                                f"  round {rnd + 1} {case.name:10s} {name:9s} "
                                f"{answer.get('ops', 0):7.0f} ops/s  cpu "
                                f"{answer.get('server_cpu_us', 0):6.0f} us/call  "
                                f"errors {answer.get('errors', answer.get('error'))}"
                            )
                    for server in running.values():
                        loadgen.ask({"close": server.address})
            results["cases"][case.name] = _plugin_case_result(answers)
    finally:
        loadgen.close()
    return results


def _plugin_case_result(answers: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, runs in answers.items():
        good = [a for a in runs if "error" not in a and a.get("calls") and not a.get("errors")]
        if not good:
            out[name] = {"error": (runs[-1] if runs else {}).get("error", "calls failed")}
            continue
        out[name] = {
            metric: statistics.median(a[metric] for a in good)
            for metric in ("ops", "p50_us", "p99_us", "server_cpu_us")
        }
        out[name]["rounds"] = len(good)
    if "server_cpu_us" in out.get("agenthost", {}) and "server_cpu_us" in out.get("flytekit", {}):
        out["flytekit_over_agenthost"] = (
            out["flytekit"]["server_cpu_us"] / out["agenthost"]["server_cpu_us"]
        )
    return out


def run_json(cmd: list[str], timeout: float = 600) -> Any:
    out = subprocess.run(
        cmd,
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(HERE)},
    )
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1:] or [f"exit {out.returncode}"]}
    return json.loads(out.stdout)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- main ------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    venvs = os.environ.get("BENCH_VENVS", "/tmp")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short development run (< 2 min)")
    parser.add_argument("--core-python", default=f"{venvs}/venv-bench-core/bin/python")
    parser.add_argument("--plugins-python", default=f"{venvs}/venv-bench/bin/python")
    parser.add_argument("--flytekit-python", default=f"{venvs}/venv-bench-fk/bin/python")
    parser.add_argument(
        "--flytekit-plugins-python", default=f"{venvs}/venv-bench-fk-plugins/bin/python"
    )
    parser.add_argument("--flyte2-python", default=f"{venvs}/venv-bench-flyte2/bin/python")
    parser.add_argument(
        "--flyte2-plugins-python", default=f"{venvs}/venv-bench-flyte2-plugins/bin/python"
    )
    parser.add_argument("--rounds", type=int, help="load rounds (default 3, quick 1)")
    parser.add_argument("--duration", type=float, help="seconds per cell (default 2, quick 0.5)")
    parser.add_argument("--cold-runs", type=int, help="cold starts per server (default 7, quick 3)")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated phases to skip: cold,load,bursts,plugins,import,codec",
    )
    parser.add_argument(
        "--rpcs",
        default="",
        help="comma-separated RPCs whose load cells run (default all), e.g. 'CreateTask v2'",
    )
    parser.add_argument(
        "--plugin-cases",
        default="",
        help="comma-separated cases of the plugins phase (default all), e.g. 'BigQuery'",
    )
    parser.add_argument(
        "--patched-host",
        default="",
        help="directory holding a patched "
        "agenthost package to measure as server 'agenthost patched'",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="keep the phases of the existing --json file that this run skips",
    )
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="servers on one CPU, the load generator on another, so they never share one "
        "(default: on when there are two CPUs)",
    )
    parser.add_argument("--json", help="default results/latest.json (quick: results/quick.json)")
    parser.add_argument("--markdown", help="default RESULTS.md (quick: results/quick.md)")
    args = parser.parse_args(argv)
    if args.json is None:
        args.json = str(HERE / "results" / ("quick.json" if args.quick else "latest.json"))
    if args.markdown is None:
        args.markdown = str(HERE / ("results/quick.md" if args.quick else "RESULTS.md"))
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.duration = args.duration or (0.5 if args.quick else 2.0)
    args.warmup = 0.2 if args.quick else 0.5
    args.cold_runs = args.cold_runs or (3 if args.quick else 7)
    pin_cpus(args.pin)
    pythons = (
        "core_python",
        "plugins_python",
        "flytekit_python",
        "flytekit_plugins_python",
        "flyte2_python",
        "flyte2_plugins_python",
    )
    for name in pythons:
        if not Path(getattr(args, name)).exists():
            log(f"warning: {getattr(args, name)} missing; servers using it are skipped")
            setattr(args, name, "")
    return args


def load_cells(quick: bool, specs: dict[str, ServerSpec]) -> list[tuple[str, str, int]]:
    main = ["agenthost", FLYTEKIT, CEILING, "agenthost patched"]
    if not quick:
        main.append("agenthost+plugins")
    cells = [(s, rpc, c) for rpc in RPCS for c in CONCURRENCY for s in main]
    if not quick:
        cells += [(CEILING_STREAM_UNARY, "ExecuteTaskSync", c) for c in CONCURRENCY]
    workers_conc = (16,) if quick else CONCURRENCY
    cells += [("agenthost --workers 2", rpc, c) for rpc in RPCS for c in workers_conc]
    cells += [("agenthost 1000 agents", rpc, 16) for rpc in ("GetTask", "CreateTask", "ListAgents")]
    v2 = ["agenthost", CEILING_V2, C0, "agenthost patched"]
    cells += [(s, rpc, c) for rpc in RPCS_V2 for c in CONCURRENCY for s in v2]
    if not quick:
        cells += [(PROTO_OUTPUTS, "GetTask", c) for c in (16, 64)]
    return [cell for cell in cells if cell[0] in specs]


def selected(cells: list[tuple[str, str, int]], rpcs: str) -> list[tuple[str, str, int]]:
    """The cells of the ``--rpcs`` list (all if empty)."""
    wanted = {r.strip() for r in rpcs.split(",") if r.strip()}
    return [cell for cell in cells if not wanted or cell[1] in wanted]


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    specs = server_specs(args)
    began = time.time()
    results: dict[str, Any] = {
        "meta": {
            "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(began)),
            "mode": "quick" if args.quick else "full",
            "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
            "cpus": os.cpu_count(),
            "pinning": pinning_meta(),
            "python": platform.python_version(),
            "rounds": args.rounds,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "cold_runs": args.cold_runs,
            "servers": {
                n: {"python": s.python, "description": s.description} for n, s in specs.items()
            },
            "versions": {},
        },
    }
    for label, python in (
        ("core", args.core_python),
        ("flytekit", args.flytekit_python),
        ("flytekit+plugins", args.flytekit_plugins_python),
        (C0, args.flyte2_python),
    ):
        if python:
            results["meta"]["versions"][label] = run_json([python, str(HERE / "versions.py")])
    with tempfile.TemporaryDirectory(prefix="agenthost-bench-") as tmp:
        logdir = Path(tmp)
        if "cold" not in skip:
            log("== cold start")
            cold = [spec for spec in specs.values() if spec.cold_start]
            results["cold_start"] = phase_cold_start(cold, args.cold_runs, logdir)
        if "load" not in skip:
            log("== load")
            results["load"] = phase_load(
                specs,
                selected(load_cells(args.quick, specs), args.rpcs),
                args.rounds,
                args.warmup,
                args.duration,
                logdir,
            )
        if "bursts" not in skip:
            log("== bursts")
            results["bursts"] = phase_bursts(specs, 2.0 if args.quick else 20.0, logdir)
        if "plugins" not in skip:
            log("== plugins: server CPU per GetTask against the same emulator")
            results["plugins"] = phase_plugins(
                args, args.rounds, args.warmup, args.duration, logdir
            )
    if "import" not in skip:
        log("== import time")
        runs = "5" if args.quick else "15"
        results["import_time"] = {
            "agenthost": run_json([args.core_python, str(HERE / "import_time.py"), "--runs", runs]),
        }
        if args.flytekit_python:
            results["import_time"]["flytekit"] = run_json(
                [args.flytekit_python, str(HERE / "import_time.py"), "--runs", runs, "--flytekit"]
            )
    if "codec" not in skip:
        log("== literal codec")
        seconds = "0.1" if args.quick else "0.5"
        results["codec"] = {
            "agenthost": run_json(
                [
                    args.core_python,
                    str(HERE / "codec_bench.py"),
                    "--impl",
                    "agenthost",
                    "--seconds",
                    seconds,
                ]
            )
        }
        if args.flytekit_python:
            results["codec"]["flytekit"] = run_json(
                [
                    args.flytekit_python,
                    str(HERE / "codec_bench.py"),
                    "--impl",
                    "flytekit",
                    "--seconds",
                    seconds,
                ]
            )
    if args.update and Path(args.json).exists():
        previous = json.loads(Path(args.json).read_text())
        phases = ("cold_start", "load", "bursts", "plugins", "import_time", "codec")
        ran = {phase for phase in phases if phase in results}
        for phase in phases:
            if phase not in results and phase in previous:
                results[phase] = previous[phase]
        before = previous["meta"]
        results["meta"]["first_run"] = before.get("first_run", before)
        results["meta"]["updated_phases"] = sorted(ran | set(before.get("updated_phases", [])))
    results["meta"]["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    results["meta"]["elapsed_s"] = round(time.time() - began, 1)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    from report import render

    markdown = render(results)
    Path(args.markdown).write_text(markdown)
    print(markdown)
    log(f"wrote {args.json} and {args.markdown} in {results['meta']['elapsed_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
