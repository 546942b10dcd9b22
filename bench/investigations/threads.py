"""Where a server's CPU per call goes, thread by thread: CPU µs and context switches per call
of each thread (threads of one name summed) while the load generator drives one RPC. Example::

    cd bench && python -m investigations.threads --servers agenthost,bare --rpc ExecuteTaskSync \\
        --conc 16

Any ``run.py`` option (``--patched-host DIR``, ``--no-pin``, ...) may follow. Pinned (the
default), every thread of a server shares one CPU, so a thread woken per call preempts the
event loop's thread: compare the ``involuntary`` column. Supports ``RESULTS.md`` § "Where a
call's CPU goes"."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import run
import servers
from procfs import thread_stats


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", default="agenthost,bare")
    parser.add_argument("--rpc", default="ExecuteTaskSync")
    parser.add_argument("--conc", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=4.0)
    known, rest = parser.parse_known_args(argv)
    args = run.parse_args(rest)
    specs = servers.server_specs(args)
    names = [name for name in known.servers.split(",") if name in specs]
    print("| server | thread | CPU µs/call | voluntary switches/call | involuntary/call |")
    print("|---|---|---|---|---|")
    loadgen = servers.LoadGen()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="agenthost-threads-") as tmp,
            servers.started([specs[n] for n in names], Path(tmp)) as running,
        ):
            for name, server in running.items():
                command = {
                    "address": server.address,
                    "pid": server.process.pid,
                    "rpc": known.rpc,
                    "concurrency": known.conc,
                    "warmup": 0.5,
                    "duration": 1.0,
                }
                loadgen.ask(command)  # warm up before the first snapshot
                before = thread_stats(server.process.pid)
                answer = loadgen.ask({**command, "warmup": 0.0, "duration": known.seconds})
                after = thread_stats(server.process.pid)
                loadgen.ask({"close": server.address})
                calls = answer.get("calls") or 1
                rows: dict[str, list[float]] = {}
                for tid, (thread, cpu, vol, invol) in after.items():
                    _, cpu0, vol0, invol0 = before.get(tid, (thread, 0.0, 0, 0))
                    label = "main (event loop)" if tid == server.process.pid else thread
                    row = rows.setdefault(label, [0.0, 0.0, 0.0])
                    row[0] += (cpu - cpu0) * 1e6 / calls
                    row[1] += (vol - vol0) / calls
                    row[2] += (invol - invol0) / calls
                for thread, (cpu, vol, invol) in sorted(rows.items(), key=lambda r: -r[1][0]):
                    if cpu >= 0.5 or vol >= 0.01:
                        print(f"| {name} | {thread} | {cpu:.0f} | {vol:.2f} | {invol:.2f} |")
                total = sum(row[0] for row in rows.values())
                print(f"| {name} | **all** ({calls:,} calls) | **{total:.0f}** | | |")
    finally:
        loadgen.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
