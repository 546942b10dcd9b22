"""Databricks: server CPU per GetTask of agenthost's agent and of flytekit's connector, both
polling the same finished run on the plugin's local Jobs API fake over HTTPS (a throwaway CA
trusted through ``SSL_CERT_FILE``), with ``--pollers`` concurrent pollers.

    uv venv /tmp/fk-dbx && uv pip install --python /tmp/fk-dbx/bin/python \\
        "flytekit[connector]==1.16.31" "flytekitplugins-spark==1.16.31"
    nox -s "tests(agent-databricks)" -- -k listed   # a venv with agenthost[test] and the plugin
    .nox/tests-agent-databricks/bin/python bench/databricks_plugin.py \\
        --flytekit-python /tmp/fk-dbx/bin/python

``--clients`` instead measures the client-side CPU of one ``runs/get`` with aiohttp, httpx and
databricks-sdk against the fake (plain HTTP), the measurement behind the plugin's choice of
aiohttp (needs the three libraries in this interpreter).

Run it with an interpreter that has agenthost[test] (the fake and the certificates need it).
This is a standalone script, not yet a row of ``nox -s bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "plugins" / "databricks" / "tests"))
sys.path.insert(0, str(HERE))

from fake_databricks import FakeDatabricks, Run  # noqa: E402
from procfs import tree_cpu_seconds  # noqa: E402

TOKEN = "dapi-bench-0123456789"


def finished_run(fake: FakeDatabricks) -> bytes:
    """A run that already succeeded, and its handle (the same JSON both servers read)."""
    run_id = next(fake.state.ids)
    run = Run(run_id=run_id, job_id=42, spec={"run_name": "bench"})
    run.life_cycle, run.result, run.message = "TERMINATED", "SUCCESS", ""
    fake.state.runs[run_id] = run
    return json.dumps({"databricks_instance": fake.netloc, "run_id": str(run_id)}).encode()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(argv: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """Start a server and wait until its gRPC port answers."""
    import grpc

    log = tempfile.TemporaryFile()  # noqa: SIM115  (kept open for the server's lifetime)
    process = subprocess.Popen(
        argv,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=120)
    except grpc.FutureTimeoutError:
        process.kill()
        log.seek(0)
        raise RuntimeError(f"{argv[0]} did not start:\n{log.read().decode()[-3000:]}") from None
    finally:
        channel.close()
    return process


def cpu_per_get(port: int, pid: int, meta: bytes, calls: int, pollers: int) -> float:
    """Server CPU milliseconds per GetTask over ``calls`` calls from ``pollers`` threads."""
    import grpc
    from flyteidl.admin import agent_pb2
    from flyteidl.core.execution_pb2 import TaskExecution
    from flyteidl.service import agent_pb2_grpc

    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = agent_pb2_grpc.AsyncAgentServiceStub(channel)
    request = agent_pb2.GetTaskRequest(
        task_category=agent_pb2.TaskCategory(name="databricks", version=0), resource_meta=meta
    )

    def poll(count: int) -> None:
        for _ in range(count):
            phase = stub.GetTask(request, timeout=30).resource.phase
            assert phase == TaskExecution.SUCCEEDED, phase

    poll(50)  # warm-up: imports, connections, token caches
    threads = [threading.Thread(target=poll, args=(calls // pollers,)) for _ in range(pollers)]
    before = tree_cpu_seconds(pid)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    used = tree_cpu_seconds(pid) - before
    channel.close()
    return used * 1000 / (pollers * (calls // pollers))


def servers(args: argparse.Namespace) -> dict[str, Callable[[int], list[str]]]:
    def agenthost(port: int) -> list[str]:
        return [
            args.agenthost_python, "-m", "agenthost", "serve", "--host", "127.0.0.1",
            "--port", str(port), "--metrics-port", "0", "--allow", "agent-databricks",
        ]  # fmt: skip

    def flytekit(port: int) -> list[str]:
        pyflyte = str(Path(args.flytekit_python).parent / "pyflyte")
        return [
            pyflyte,
            "serve",
            "connector",
            "--port",
            str(port),
            "--prometheus_port",
            str(free_port()),
        ]

    found = {"agenthost": agenthost}
    if args.flytekit_python:
        found["flytekit"] = flytekit
    return found


def measure_servers(args: argparse.Namespace) -> None:
    from agenthost.testing import make_certificates, stop_process

    with tempfile.TemporaryDirectory() as tmp:
        certs = make_certificates(Path(tmp), ("127.0.0.1",))
        with FakeDatabricks({TOKEN}, tls=(str(certs.server_cert), str(certs.server_key))) as fake:
            meta = finished_run(fake)
            env = {
                "SSL_CERT_FILE": str(certs.ca),
                "DATABRICKS_INSTANCES": fake.netloc,
                "_FSEC_FLYTE_DATABRICKS_ACCESS_TOKEN": TOKEN,
            }
            results: dict[str, list[float]] = {}
            connections: dict[str, int] = {}
            for name, argv in servers(args).items():
                opened = fake.state.connections
                port = free_port()
                process = start(argv(port), env, port)
                try:
                    results[name] = [
                        cpu_per_get(port, process.pid, meta, args.calls, args.pollers)
                        for _ in range(args.rounds)
                    ]
                finally:
                    stop_process(process)
                connections[name] = fake.state.connections - opened
    print(f"server CPU per GetTask, {args.pollers} pollers, {args.calls} calls x {args.rounds}")
    for name, values in results.items():
        rounds = ", ".join(f"{v:.2f}" for v in values)
        print(f"  {name:10s} {statistics.median(values):6.2f} ms  (rounds: {rounds})")
    if "flytekit" in results:
        ratio = statistics.median(results["flytekit"]) / statistics.median(results["agenthost"])
        print(f"  flytekit / agenthost: {ratio:.2f}x")
    calls = 50 + args.rounds * (args.calls // args.pollers) * args.pollers
    for name, count in connections.items():
        print(f"  {name}: {count} TLS connections to the fake for {calls} GetTask calls")


def measure_clients(calls: int) -> None:
    import urllib.request

    fake_script = HERE.parent / "plugins" / "databricks" / "tests" / "fake_databricks.py"
    fake = subprocess.Popen(
        [sys.executable, str(fake_script), TOKEN], stdout=subprocess.PIPE, text=True
    )
    try:
        assert fake.stdout is not None
        base_url = "http://127.0.0.1:" + fake.stdout.readline().strip().removeprefix("port=")
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        submit = urllib.request.Request(
            f"{base_url}/api/2.1/jobs/runs/submit",
            data=json.dumps(
                {"run_name": "bench", "existing_cluster_id": "c", "spark_python_task": {}}
            ).encode(),
            headers=headers,
        )
        with urllib.request.urlopen(submit) as answer:
            run_id = json.load(answer)["run_id"]
        url = f"{base_url}/api/2.1/jobs/runs/get"
        params = {"run_id": str(run_id)}
        _measure_clients(calls, base_url, url, params, headers, run_id)
    finally:
        fake.terminate()
        fake.wait()


def _measure_clients(
    calls: int,
    base_url: str,
    url: str,
    params: dict[str, str],
    headers: dict[str, str],
    run_id: int,
) -> None:
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

    runs: dict[str, Callable[[], object]] = {
        "aiohttp": lambda: asyncio.run(with_aiohttp()),
        "httpx": lambda: asyncio.run(with_httpx()),
        "databricks-sdk": with_sdk,
    }
    print(f"client CPU per runs/get ({calls} calls; the fake in its own process)")
    for name, run in runs.items():
        run()  # warm-up and imports
        started = time.process_time()
        run()
        print(f"  {name:15s} {(time.process_time() - started) * 1000 / calls:6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agenthost-python", default=sys.executable)
    parser.add_argument("--flytekit-python", default="")
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--pollers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", action="store_true")
    args = parser.parse_args()
    if args.clients:
        measure_clients(args.calls)
    else:
        measure_servers(args)


if __name__ == "__main__":
    main()
