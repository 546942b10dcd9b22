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
Databricks connectors); the codec micro-benchmarks (``host/benchmarks``) run in
``--micro-python``. The load generator is a separate process (``loadgen.py``) run by this
interpreter. See ``bench/README.md``.

This module is the CLI and the order of the phases; ``servers.py`` is the registry of servers
and how one is started, ``phases.py`` the phases, ``report.py`` the Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import phases
import report
from names import (
    C0,
    CEILING,
    CEILING_STREAM_UNARY,
    CEILING_UVLOOP,
    CEILING_V2,
    CEILING_V2_UVLOOP,
    CONCURRENCY,
    FLYTEKIT,
    PROTO_OUTPUTS,
    RPCS,
    RPCS_V2,
)
from servers import (
    HERE,
    ServerSpec,
    log,
    pin_cpus,
    pinning_meta,
    server_specs,
)


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
    parser.add_argument(
        "--micro-python",
        default=f"{venvs}/venv-bench-micro/bin/python",
        help="a venv with agenthost, pytest-benchmark and flytekit: the codec micro-benchmarks",
    )
    parser.add_argument("--rounds", type=int, help="load rounds (default 3, quick 1)")
    parser.add_argument("--duration", type=float, help="seconds per cell (default 2, quick 0.5)")
    parser.add_argument("--cold-runs", type=int, help="cold starts per server (default 7, quick 3)")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated phases to skip: cold,load,bursts,plugins,workers,import,codec",
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
        "--env-variant",
        action="append",
        default=[],
        metavar="NAME=SERVER:KEY=VALUE",
        help="also measure SERVER (a server name) with KEY=VALUE in its environment, as server "
        "NAME; repeatable, and SERVER may be an earlier variant, to set more than one variable "
        "(e.g. 'agenthost pollset=agenthost:GRPC_EXPERIMENTS=pollset_alternative')",
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
    parser.add_argument(
        "--markdown",
        help="default RESULTS.md (quick: results/quick.md); only the part between report.py's "
        "markers is replaced",
    )
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
        "micro_python",
    )
    for name in pythons:
        if not Path(getattr(args, name)).exists():
            log(f"warning: {getattr(args, name)} missing; servers using it are skipped")
            setattr(args, name, "")
    return args


def load_cells(quick: bool, specs: dict[str, ServerSpec]) -> list[tuple[str, str, int]]:
    main = ["agenthost", FLYTEKIT, CEILING, CEILING_UVLOOP, "agenthost patched"]
    if not quick:
        main.append("agenthost+plugins")
    cells = [(s, rpc, c) for rpc in RPCS for c in CONCURRENCY for s in main]
    if not quick:
        cells += [(CEILING_STREAM_UNARY, "ExecuteTaskSync", c) for c in CONCURRENCY]
    workers_conc = (16,) if quick else CONCURRENCY
    cells += [("agenthost --workers 2", rpc, c) for rpc in RPCS for c in workers_conc]
    cells += [("agenthost 1000 agents", rpc, 16) for rpc in ("GetTask", "CreateTask", "ListAgents")]
    v2 = ["agenthost", CEILING_V2, CEILING_V2_UVLOOP, C0, "agenthost patched"]
    cells += [(s, rpc, c) for rpc in RPCS_V2 for c in CONCURRENCY for s in v2]
    if not quick:
        cells += [(PROTO_OUTPUTS, "GetTask", c) for c in (16, 64)]
    return [cell for cell in cells if cell[0] in specs]


def selected(cells: list[tuple[str, str, int]], rpcs: str) -> list[tuple[str, str, int]]:
    """The cells of the ``--rpcs`` list (all if empty)."""
    wanted = {r.strip() for r in rpcs.split(",") if r.strip()}
    return [cell for cell in cells if not wanted or cell[1] in wanted]


PHASES = ("cold_start", "load", "bursts", "plugins", "workers", "import_time", "codec")
"""The sections of the results file, in the order they run."""
PHASE_SETTINGS = {"cold_start": ("cold_runs",), "load": ("rounds", "duration_s", "warmup_s")}
"""The run settings in ``meta`` that describe one phase's figures (kept with it by ``--update``)."""


def run_phases(args: argparse.Namespace, specs: dict[str, ServerSpec]) -> dict[str, Any]:
    """Every phase not in ``--skip`` (``--skip`` names: cold, load, bursts, plugins, workers,
    import, codec)."""
    skip = set(filter(None, args.skip.split(",")))
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="agenthost-bench-") as tmp:
        logdir = Path(tmp)
        if "cold" not in skip:
            log("== cold start")
            cold = [spec for spec in specs.values() if spec.cold_start]
            results["cold_start"] = phases.phase_cold_start(cold, args.cold_runs, logdir)
        if "load" not in skip:
            log("== load")
            cells = selected(load_cells(args.quick, specs), args.rpcs)
            results["load"] = phases.phase_load(
                specs, cells, args.rounds, args.warmup, args.duration, logdir
            )
        if "bursts" not in skip:
            log("== bursts")
            results["bursts"] = phases.phase_bursts(specs, 2.0 if args.quick else 20.0, logdir)
        if "plugins" not in skip:
            log("== plugins: server CPU per GetTask against the same emulator")
            results["plugins"] = phases.phase_plugins(
                args, args.rounds, args.warmup, args.duration, logdir
            )
        if "workers" not in skip and args.core_python:
            log("== --workers 1 and 2: GetTask throughput with real per-call work")
            results["workers"] = phases.phase_workers(
                args.core_python, args.rounds, args.warmup, args.duration, logdir
            )
    if "import" not in skip:
        log("== import time")
        results["import_time"] = phases.phase_import(args)
    if "codec" not in skip and args.micro_python:
        log("== literal codec (host/benchmarks, pytest-benchmark)")
        results["codec"] = phases.phase_codec(args.micro_python, args.quick)
    return results


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    specs = server_specs(args)
    began = time.time()
    meta: dict[str, Any] = {
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
    }
    for label, python in (
        ("core", args.core_python),
        ("flytekit", args.flytekit_python),
        ("flytekit+plugins", args.flytekit_plugins_python),
        (C0, args.flyte2_python),
    ):
        if python:
            meta["versions"][label] = phases.run_json([python, str(HERE / "versions.py")])
    results = {"meta": meta, **run_phases(args, specs)}
    if args.update and Path(args.json).exists():
        previous = json.loads(Path(args.json).read_text())
        ran = {phase for phase in PHASES if phase in results}
        for phase in PHASES:
            if phase not in results and phase in previous:
                results[phase] = previous[phase]
        before = previous["meta"]
        for phase, keys in PHASE_SETTINGS.items():
            if phase not in ran:  # the kept phase's figures were taken with its old settings
                meta.update({key: before[key] for key in keys if key in before})
        meta["first_run"] = before.get("first_run", before)
        meta["updated_phases"] = sorted(ran | set(before.get("updated_phases", [])))
    meta["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    meta["elapsed_s"] = round(time.time() - began, 1)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    markdown = report.render(results)
    report.write(Path(args.markdown), markdown)
    print(markdown)
    log(f"wrote {args.json} and the generated part of {args.markdown} in {meta['elapsed_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
