"""Client-side CPU of one Databricks ``runs/get`` with aiohttp, httpx and databricks-sdk,
against the plugin's local Jobs API fake (its own process, plain HTTP, keep-alive): the
measurement behind ``agent-databricks``'s choice of aiohttp.

    uv venv /tmp/dbx-clients && uv pip install --python /tmp/dbx-clients/bin/python \\
        -e host aiohttp httpx databricks-sdk
    /tmp/dbx-clients/bin/python bench/investigations/databricks_clients.py --calls 1000

Server CPU per GetTask of the agent against flytekit's connector is in the plugins section of
``run.py`` (``plugin_cases.py``). Supports the figures in ``plugins/databricks/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

FAKE = Path(__file__).resolve().parents[2] / "plugins" / "databricks" / "tests"
TOKEN = "dapi-bench-0123456789"


def submitted_run(base_url: str) -> int:
    """Submit one run to the fake; its id."""
    body = {"run_name": "bench", "existing_cluster_id": "c", "spark_python_task": {}}
    request = urllib.request.Request(
        f"{base_url}/api/2.1/jobs/runs/submit",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        return int(json.load(answer)["run_id"])


def clients(base_url: str, run_id: int, calls: int) -> dict[str, Callable[[], object]]:
    """One callable per client library, each making ``calls`` ``runs/get`` calls."""
    url = f"{base_url}/api/2.1/jobs/runs/get"
    params = {"run_id": str(run_id)}
    headers = {"Authorization": f"Bearer {TOKEN}"}

    async def with_aiohttp() -> None:
        import aiohttp

        async with aiohttp.ClientSession() as session:
            for _ in range(calls):
                async with session.get(url, params=params, headers=headers) as response:
                    await response.json()

    async def with_httpx() -> None:
        import httpx

        async with httpx.AsyncClient() as client:
            for _ in range(calls):
                (await client.get(url, params=params, headers=headers)).json()

    def with_sdk() -> None:
        from databricks.sdk import WorkspaceClient

        client = WorkspaceClient(host=base_url, token=TOKEN, auth_type="pat")
        for _ in range(calls):
            client.jobs.get_run(run_id)

    return {
        "aiohttp": lambda: asyncio.run(with_aiohttp()),
        "httpx": lambda: asyncio.run(with_httpx()),
        "databricks-sdk": with_sdk,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()
    fake = subprocess.Popen(
        [sys.executable, str(FAKE / "fake_databricks.py"), TOKEN], stdout=subprocess.PIPE, text=True
    )
    try:
        assert fake.stdout is not None
        base_url = "http://127.0.0.1:" + fake.stdout.readline().strip().removeprefix("port=")
        run_id = submitted_run(base_url)
        print(f"client CPU per runs/get ({args.calls} calls; the fake in its own process)")
        for name, run in clients(base_url, run_id, args.calls).items():
            run()  # warm-up and imports
            started = time.process_time()
            run()
            print(f"  {name:15s} {(time.process_time() - started) * 1000 / args.calls:6.2f} ms")
    finally:
        fake.terminate()
        fake.wait()


if __name__ == "__main__":
    main()
