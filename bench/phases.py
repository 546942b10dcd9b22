"""The phases of a benchmark run, each a function of the servers it measures that returns its
section of ``results/latest.json``: cold start, load (the per-call cells), bursts, the plugins
section, ``--workers``, import time and the literal codec. Figures are defined in
``bench/README.md``."""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import grpc
from flyteidl.service import agent_pb2_grpc
from names import CEILING, CEILING_PENDING, FLYTEKIT
from procfs import tree_rss_kb
from servers import (
    HERE,
    LoadGen,
    ServerSpec,
    agenthost_argv,
    log,
    pyflyte,
    pyflyte_argv,
    start,
    started,
    stop,
)

from agenthost.testing.load import create_request, get_request


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
        # In round order (None: a failed round), for ratios paired within a round.
        cells_out[key]["server_cpu_us_rounds"] = [
            a["server_cpu_us"] if "error" not in a and a.get("calls") else None for a in answers
        ]
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
    request = create_request(template, inputs, "s3://bench/plugins")
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
                    request = get_request(case.task_type, meta)
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
    out = _medians(answers)
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


WORKERS = (1, 2)
WORKERS_WORK_MS = 2.0
"""CPU each GetTask spends in the agent in the ``--workers`` phase (``BENCH_WORK_MS``)."""
WORKERS_CONCURRENCY = 64
WORKERS_CONNECTIONS = 8
"""Connections the callers spread over: the kernel hands each to one worker process."""


def phase_workers(
    python: str, rounds: int, warmup: float, duration: float, logdir: Path
) -> dict[str, Any]:
    """GetTask throughput of ``agenthost serve --workers 1`` and ``--workers 2`` when each call
    costs ``WORKERS_WORK_MS`` of CPU: both servers side by side, unpinned, the order alternating
    between rounds; medians of the rounds and the speed-up of 2 workers over 1."""
    env = {"BENCH_WORK_MS": str(WORKERS_WORK_MS)}
    specs = [
        ServerSpec(
            f"--workers {n}",
            python,
            agenthost_argv("--modules", "agents_bench", "--workers", str(n)),
            "",
            env=env,
            pinned=False,
        )
        for n in WORKERS
    ]
    answers: dict[str, list[dict[str, Any]]] = {spec.name: [] for spec in specs}
    loadgen = LoadGen(pinned=False)
    try:
        with started(specs, logdir) as running:
            for rnd in range(rounds):
                for spec in specs if rnd % 2 == 0 else reversed(specs):
                    server = running[spec.name]
                    answer = loadgen.ask(
                        {
                            "address": server.address,
                            "pid": server.process.pid,
                            "rpc": "GetTask",
                            "concurrency": WORKERS_CONCURRENCY,
                            "connections": WORKERS_CONNECTIONS,
                            "warmup": warmup,
                            "duration": duration,
                        }
                    )
                    answers[spec.name].append(answer)
                    log(
                        f"  round {rnd + 1} {spec.name}: {answer.get('ops', 0):7.0f} ops/s  "
                        f"p50 {answer.get('p50_us', 0):7.0f} us  p99 "
                        f"{answer.get('p99_us', 0):7.0f} us  errors "
                        f"{answer.get('errors', answer.get('error'))}"
                    )
    finally:
        loadgen.close()
    servers = _medians(answers)
    ops = [servers.get(spec.name, {}).get("ops") for spec in specs]
    return {
        "work_ms": WORKERS_WORK_MS,
        "concurrency": WORKERS_CONCURRENCY,
        "connections": WORKERS_CONNECTIONS,
        "servers": servers,
        "speedup": ops[1] / ops[0] if all(ops) else None,
    }


def phase_import(args: argparse.Namespace) -> dict[str, Any]:
    """``import_time.py`` in the core venv and, if there is one, the flytekit venv."""
    runs = "5" if args.quick else "15"
    results = {
        "agenthost": run_json([args.core_python, str(HERE / "import_time.py"), "--runs", runs])
    }
    if args.flytekit_python:
        results[FLYTEKIT] = run_json(
            [args.flytekit_python, str(HERE / "import_time.py"), "--runs", runs, "--flytekit"]
        )
    return results


BENCHMARKS = HERE.parent / "host" / "benchmarks"
"""The host's pytest-benchmark micro-benchmarks (the literal codec)."""


def phase_codec(python: str, quick: bool) -> dict[str, Any]:
    """The codec micro-benchmarks (``host/benchmarks``, pytest-benchmark) in ``python``'s venv:
    calls per second of each (implementation, case, operation), from the best round."""
    timing = ["--benchmark-max-time=0.05", "--benchmark-min-rounds=3"] if quick else []
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "codec.json"
        done = subprocess.run(
            [python, "-m", "pytest", str(BENCHMARKS), "-q", "-p", "no:cacheprovider",
             f"--benchmark-json={report}", "--benchmark-disable-gc", *timing],
            cwd=HERE.parent, capture_output=True, text=True, timeout=1800,
        )  # fmt: skip
        if done.returncode != 0 or not report.exists():
            return {"error": (done.stdout + done.stderr).strip().splitlines()[-3:]}
        data = json.loads(report.read_text())
    results: dict[str, Any] = {"pytest_benchmark": data.get("version")}
    for bench in data["benchmarks"]:
        info = bench["extra_info"]
        row = results.setdefault(info["impl"], {}).setdefault(info["case"], {})
        row[f"{info['operation']}_per_s"] = round(1 / bench["stats"]["min"])
    return results


def _medians(answers: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per server, the median over rounds of each figure of the rounds without errors."""
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
    return out
