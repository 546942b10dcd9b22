"""Focused A/B of per-call cost: chosen servers (names from ``servers.py``) on chosen RPCs and
concurrencies, more rounds than the full run; the tool behind every A/B table of ``RESULTS.md``
(a request-path change is judged by it, issue 23's "cost stays"). Example::

    python bench/ab.py --servers agenthost,flytekit,bare --rpcs GetTask,CreateTask \\
        --conc 16 --rounds 4 --duration 2 --out bench/results/ab-c16.json

Any ``run.py`` option (``--core-python``, ``--patched-host DIR``, ``--env-variant``, ...) may
follow."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import names
import phases
import report
import run
import servers


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", default="agenthost,flytekit,bare")
    parser.add_argument("--rpcs", default="GetTask,CreateTask,ExecuteTaskSync")
    parser.add_argument("--conc", default="16")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--out", default="")
    known, rest = parser.parse_known_args(argv)
    args = run.parse_args(rest)
    specs = servers.server_specs(args)
    chosen = [s for s in known.servers.split(",") if s in specs]
    cells = [
        (server, rpc, int(conc))
        for rpc in known.rpcs.split(",")
        for conc in known.conc.split(",")
        for server in chosen
        if serves(specs[server].variant_of or server, rpc)
    ]
    meta = {"loadavg_start": Path("/proc/loadavg").read_text().split()[:3]}
    with tempfile.TemporaryDirectory(prefix="agenthost-ab-") as tmp:
        result = phases.phase_load(
            specs, cells, known.rounds, args.warmup, args.duration, Path(tmp)
        )
    meta["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    result["meta"] = {
        **meta,
        "rounds": known.rounds,
        "duration_s": args.duration,
        "pinning": servers.pinning_meta(),
    }
    if known.out:
        Path(known.out).write_text(json.dumps(result, indent=2) + "\n")
    rows = {f"{name}|{cell}": row for name, cell, row in _rows(result)}
    fk = {k.split("|", 1)[1]: v for k, v in result["cells"].items() if k.startswith("flytekit|")}
    print(
        "| server | rpc | conc | server CPU µs/call | vs ceiling | vs ceiling, paired rounds "
        "| vs uvloop ceiling | flytekit / this | ops/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, cell, row in _rows(result):
        cpu = row.get("server_cpu_us")
        if cpu is None:
            print(f"| {name} | {cell.replace('|', ' | ')} | failed | – | – | – | – | – |")
            continue
        ceiling = names.CEILING_V2 if _protocol(cell) == "v2" else names.CEILING
        theirs = fk.get(cell, {}).get("server_cpu_us")
        paired = report.paired(row, rows.get(f"{ceiling}|{cell}", {}))
        print(
            f"| {name} | {cell.replace('|', ' | ')} | {cpu:.0f} | "
            f"{_times(cpu, rows.get(f'{ceiling}|{cell}'))} | "
            f"{paired or '–'} | "
            f"{_times(cpu, rows.get(f'{names.SAME_LOOP[ceiling]}|{cell}'))} | "
            f"{f'{theirs / cpu:.2f}x' if theirs else '–'} | {row.get('ops', 0):,.0f} |"
        )
    return 0


V2_ONLY = (names.CEILING_V2, names.CEILING_V2_UVLOOP, names.C0)
"""Servers that answer only the Flyte 2 services."""


def serves(server: str, rpc: str) -> bool:
    """Whether ``server`` answers ``rpc`` (v1-only servers get no v2 cell, and back)."""
    if rpc in names.RPCS_V2:
        return server not in (
            names.CEILING,
            names.CEILING_UVLOOP,
            names.FLYTEKIT,
            names.CEILING_STREAM_UNARY,
        )
    return server not in V2_ONLY


def _times(cpu: float, reference: dict | None) -> str:
    """``cpu`` as a multiple of ``reference``'s server CPU per call ("–" if not measured)."""
    base = (reference or {}).get("server_cpu_us")
    return f"{cpu / base:.2f}x" if base else "–"


def _protocol(cell: str) -> str:
    return "v2" if cell.split("|", 1)[0] in names.RPCS_V2 else "v1"


def _rows(result: dict) -> list[tuple[str, str, dict]]:
    """``(server, "rpc|conc", row)`` for every measured cell."""
    return [(*key.split("|", 1), row) for key, row in result["cells"].items()]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
