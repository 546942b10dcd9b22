"""A/B of agenthost serving one plugin case of ``plugin_cases.py``: server CPU per GetTask of a
finished job (4 pollers), by thread, for variants that differ only in ``PYTHONPATH`` (a patched
copy of a package first on the path). Example, a patched agent_bigquery against the installed
one::

    cd bench && python -m investigations.plugin_ab --case BigQuery --rounds 4 \\
        base= patched=/tmp/patched

Each variant is ``label=DIR`` (empty DIR: unpatched); rounds alternate the order. Pinned like
``run.py`` (the server on CPU 0, the load generator on CPU 1). Supports ``RESULTS.md`` §
"Where agenthost's path around BigQuery's blocking `get_job` goes"."""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import tempfile
from pathlib import Path

import phases
import servers
from flyteidl.admin import agent_pb2
from plugin_cases import CASES, POLLERS
from procfs import thread_stats


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="BigQuery", choices=[c.name for c in CASES])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--python", default=sys.executable, help="the agenthost venv's python")
    parser.add_argument("variants", nargs="+", metavar="LABEL=DIR")
    args = parser.parse_args(argv)
    case = next(c for c in CASES if c.name == args.case)
    variants = [tuple(v.split("=", 1)) for v in args.variants]
    servers.pin_cpus(None)
    totals: dict[str, list[float]] = {label: [] for label, _ in variants}
    with tempfile.TemporaryDirectory() as scratch, case.backend(Path(scratch)) as backend:
        for rnd in range(args.rounds):
            for label, prefix in variants if rnd % 2 == 0 else variants[::-1]:
                path = ":".join(p for p in (prefix, str(servers.AGENTS)) if p)
                spec = servers.ServerSpec(
                    label, args.python, servers.agenthost_argv("--allow", case.allow), "",
                    env={**backend.env, "PYTHONPATH": path},
                )  # fmt: skip
                with servers.started([spec], Path(scratch)) as running:
                    server = running[label]
                    meta = phases.create_once(server.address, backend.template, backend.inputs)
                    request = agent_pb2.GetTaskRequest(
                        task_type=case.task_type,
                        task_category=agent_pb2.TaskCategory(name=case.task_type),
                        resource_meta=meta,
                    )
                    command = {
                        "address": server.address,
                        "pid": server.process.pid,
                        "rpc": "GetTask",
                        "get_request": base64.b64encode(request.SerializeToString()).decode(),
                        "concurrency": POLLERS,
                        "warmup": 0.5,
                        "duration": 1.0,
                    }
                    loadgen = servers.LoadGen()
                    try:
                        loadgen.ask(command)
                        before = thread_stats(server.process.pid)
                        answer = loadgen.ask({**command, "warmup": 0.0, "duration": args.seconds})
                        after = thread_stats(server.process.pid)
                    finally:
                        loadgen.close()
                calls = answer.get("calls") or 1
                threads: dict[str, float] = {}
                for tid, (name, cpu, _, _) in after.items():
                    kind = "event loop" if tid == server.process.pid else name
                    cpu0 = before.get(tid, (name, 0.0, 0, 0))[1]
                    threads[kind] = threads.get(kind, 0.0) + (cpu - cpu0) * 1e6 / calls
                totals[label].append(answer["server_cpu_us"])
                detail = ", ".join(
                    f"{k} {v:.0f}"
                    for k, v in sorted(threads.items(), key=lambda kv: -kv[1])
                    if v >= 1
                )
                print(f"round {rnd + 1} {label}: {answer['server_cpu_us']:.0f} µs/call ({detail})")
    for label, values in totals.items():
        print(f"median {label}: {statistics.median(values):.0f} µs/call over {len(values)} rounds")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
