"""Import cost, as the minimum over ``--runs`` fresh interpreters of the wall time of
``python -c "import X"`` minus that of ``python -c pass``; prints JSON (milliseconds).

Default statements are the agenthost ones (the SDK a plugin imports, the CLI, the server
path); ``--flytekit`` measures flytekit's equivalents instead. Also reports the ten slowest
modules (cumulative, ``-X importtime``) of ``import agenthost`` / ``import flytekit``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from typing import Any

AGENTHOST = {
    "import agenthost": "import agenthost",
    "import agenthost.literals": "import agenthost.literals",
    "import typer": "import typer",
    "import agenthost.cli (typer app)": "import agenthost.cli",
    "server path (app + dispatch + services + grpc)": (
        "import agenthost.server.app, agenthost.dispatch, agenthost.server.services, "
        "agenthost.plugins"
    ),
    "import grpc": "import grpc",
    "import flyteidl.admin.agent_pb2": "import flyteidl.admin.agent_pb2",
}
FLYTEKIT = {
    "import flytekit": "import flytekit",
    "import flytekit.extend.backend.base_connector": (
        "import flytekit.extend.backend.base_connector"
    ),
    "connector server path (connector_service)": (
        "import flytekit.extend.backend.connector_service"
    ),
}


def best_of(statement: str, runs: int, env: Mapping[str, str] | None = None) -> float:
    best = float("inf")
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True, env=env)
        best = min(best, time.perf_counter() - began)
    return best


def slowest(module: str, count: int = 10, env: Mapping[str, str] | None = None) -> list[list[Any]]:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    rows = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cumulative_us, name = line.split(":", 1)[1].split("|")
        rows.append([name.strip(), int(cumulative_us) / 1000, int(self_us) / 1000])
    rows.sort(key=lambda r: -r[1])
    return [r for r in rows if r[0].strip() != module][:count]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--flytekit", action="store_true")
    args = parser.parse_args()
    statements = FLYTEKIT if args.flytekit else AGENTHOST
    # flytekit makes a sandbox directory in TMPDIR at every import and leaves it behind.
    with tempfile.TemporaryDirectory(prefix="import-time-") as scratch:
        env = {**os.environ, "TMPDIR": scratch}
        baseline = best_of("pass", args.runs, env)
        result: dict[str, Any] = {"interpreter_ms": round(baseline * 1000, 1), "runs": args.runs}
        for label, statement in statements.items():
            try:
                result[label] = round((best_of(statement, args.runs, env) - baseline) * 1000, 1)
            except subprocess.CalledProcessError:
                result[label] = None
        result["slowest"] = slowest("flytekit" if args.flytekit else "agenthost", env=env)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
