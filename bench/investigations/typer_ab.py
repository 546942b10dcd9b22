"""Cold start of ``agenthost serve`` under different CLI front ends, alternated: typer as
pinned (``--core-python``), other typer versions (``--variant NAME=PYTHON``, a venv with the
host and that typer), no typer at all (``serve_direct.py``), and the bare ceiling. Example::

    cd bench && python -m investigations.typer_ab --runs 9 \\
        --variant "typer 0.28.0=/tmp/venv-bench-t028/bin/python"

Prints a Markdown table; ``--out FILE`` also writes JSON
(``results/investigations/typer-cold.json``). Supports the ``agenthost+plugins no-typer`` row
of ``RESULTS.md`` § "Cold start"."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import phases
import run
import servers


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--variant", action="append", default=[])
    parser.add_argument("--out", default="")
    known, rest = parser.parse_known_args(argv)
    args = run.parse_args(rest)
    core = args.core_python
    bench_argv = servers.agenthost_argv("--modules", "agents_bench")
    specs = [servers.ServerSpec("typer as installed", core, bench_argv, "")]
    for variant in known.variant:
        name, _, python = variant.partition("=")
        specs.append(servers.ServerSpec(name, python, bench_argv, ""))
    specs += [
        servers.ServerSpec(
            "no typer (serve_direct.py)",
            core,
            servers.agenthost_argv("--modules", "agents_bench", direct=True),
            "",
        ),
        servers.ServerSpec(
            "bare",
            core,
            lambda port, _m: [str(servers.AGENTS / "bare_server.py"), "--port", str(port)],
            "",
        ),
    ]
    with tempfile.TemporaryDirectory(prefix="agenthost-typer-") as tmp:
        result = phases.phase_cold_start(specs, known.runs, Path(tmp))
    if known.out:
        Path(known.out).write_text(json.dumps(result, indent=2) + "\n")
    print("| front end | cold start median (min) | RSS after start |")
    print("|---|---|---|")
    for name, row in result.items():
        print(
            f"| {name} | {row['median_s'] * 1000:.0f} ms ({row['min_s'] * 1000:.0f}) | "
            f"{row['rss_start_mb']:.1f} MB |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
