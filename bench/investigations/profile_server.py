"""Profile a server under load with py-spy: ``cd bench && python -m
investigations.profile_server SERVER RPC CONC SECONDS`` (SERVER is a name from ``servers.py``).
Writes collapsed stacks to ``results/investigations/profile-<server>-<rpc>.txt`` and prints the
top functions by inclusive and self samples. Needs ``py-spy`` on PATH (or next to this
interpreter) and ptrace rights. Supports ``RESULTS.md`` § "v2 CreateTask cost (issue 19 §7):
where the extra CPU goes"."""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import run
import servers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("server")
    parser.add_argument("rpc")
    parser.add_argument("concurrency", type=int)
    parser.add_argument("seconds", type=float)
    parser.add_argument("--top", type=int, default=25)
    known, rest = parser.parse_known_args()
    args = run.parse_args(rest)
    spec = servers.server_specs(args)[known.server]
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out = (
        servers.HERE
        / "results"
        / "investigations"
        / f"profile-{known.server.replace(' ', '_')}-{known.rpc}.txt"
    )
    with tempfile.TemporaryDirectory() as tmp, servers.started([spec], Path(tmp)) as running:
        server = running[spec.name]
        loadgen = servers.LoadGen()
        answer: dict = {}

        def drive() -> None:
            answer.update(
                loadgen.ask(
                    {
                        "address": server.address,
                        "pid": server.process.pid,
                        "rpc": known.rpc,
                        "concurrency": known.concurrency,
                        "warmup": 0.5,
                        "duration": known.seconds + 1.0,
                    }
                )
            )

        thread = threading.Thread(target=drive)
        thread.start()
        subprocess.run(
            [
                py_spy,
                "record",
                "--pid",
                str(server.process.pid),
                "--format",
                "raw",
                "--rate",
                "500",
                "--duration",
                str(int(known.seconds)),
                "--nonblocking",
                "-o",
                str(out),
            ],
            check=True,
            capture_output=True,
        )
        thread.join()
        loadgen.close()
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = stack.split(";")
        total += n
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    print(f"{known.server} {known.rpc} c={known.concurrency}: {answer}")
    print(f"samples {total}; top inclusive:")
    for frame, n in inclusive.most_common(known.top):
        print(f"  {100 * n / total:5.1f}%  {frame}")
    print("top self:")
    for frame, n in own.most_common(known.top):
        print(f"  {100 * n / total:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
