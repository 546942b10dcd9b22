"""Load test: GetTask throughput of one ``agenthost serve`` with ``--workers 1`` vs ``2`` ...

Starts the server on loopback with a small async agent whose ``get`` spends ``--work-ms`` of CPU
per call on the event loop (standing in for protobuf, literal conversion and agent code), then
drives it from ``--clients`` processes, each with several connections and ``--concurrency``
calls in flight, for ``--duration`` seconds after a warm-up. Prints calls/s and latency per
worker count. A measurement, not a test: no assertions, numbers depend on the machine.

    python deploy/loadtest.py --workers 1 2 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import textwrap
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

TASK_TYPE = "load_probe"
AGENT_MODULE = "load_probe_agent"
AGENT_SOURCE = '''
"""An async agent whose get burns a fixed amount of CPU, like real per-call work."""

import os
import time
from dataclasses import dataclass

from agenthost import AgentRegistry, AsyncAgentBase, Resource, ResourceMeta

AGENTHOST_PLUGIN_API = ">=1.0,<2"
WORK_SECONDS = float(os.environ.get("LOAD_PROBE_WORK_MS", "2")) / 1000


@dataclass
class LoadJob(ResourceMeta):
    """A job id."""

    job_id: str


class LoadProbe(AsyncAgentBase):
    """create returns at once; get spends WORK_SECONDS of CPU and reports success."""

    def __init__(self):
        super().__init__("load_probe", LoadJob, name="LoadProbe")

    async def create(self, task_template, inputs=None, **kwargs):
        return LoadJob("job")

    async def get(self, resource_meta):
        deadline = time.thread_time() + WORK_SECONDS
        while time.thread_time() < deadline:
            pass
        return Resource.succeeded({})

    async def delete(self, resource_meta):
        return None


AgentRegistry.register(LoadProbe())
'''


@dataclass
class Result:
    """One run's figures."""

    workers: int
    calls: int
    errors: int
    seconds: float
    calls_per_second: float
    p50_ms: float
    p99_ms: float


def _client(
    address: str, connections: int, concurrency: int, warmup: float, duration: float, queue: Any
) -> None:
    """One client process: ``concurrency`` calls in flight over ``connections`` channels."""
    import grpc
    from flyteidl.admin import agent_pb2
    from flyteidl.service import agent_pb2_grpc

    request = agent_pb2.GetTaskRequest(
        task_category=agent_pb2.TaskCategory(name=TASK_TYPE, version=0),
        resource_meta=json.dumps({"job_id": "job"}).encode(),
    )

    async def run() -> tuple[int, int, list[float]]:
        channels = [
            grpc.aio.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])
            for _ in range(connections)
        ]
        stubs = [agent_pb2_grpc.AsyncAgentServiceStub(c) for c in channels]
        start = time.monotonic()
        measure_from, stop_at = start + warmup, start + warmup + duration
        latencies: list[float] = []
        errors = 0

        async def caller(index: int) -> None:
            nonlocal errors
            stub = stubs[index % len(stubs)]
            while True:
                began = time.monotonic()
                if began >= stop_at:
                    return
                try:
                    await stub.GetTask(request, timeout=30)
                except grpc.RpcError:
                    errors += began >= measure_from
                    continue
                if began >= measure_from:
                    latencies.append(time.monotonic() - began)

        await asyncio.gather(*(caller(i) for i in range(concurrency)))
        for channel in channels:
            await channel.close(None)
        return len(latencies), errors, latencies

    queue.put(asyncio.run(run()))


def measure(workers: int, agent_dir: Path, args: argparse.Namespace) -> Result:
    """Serve with ``workers`` processes and drive it; the figures of the measured window."""
    from agenthost.testing import running_server

    env = {
        "PYTHONPATH": os.pathsep.join([str(agent_dir), os.environ.get("PYTHONPATH", "")]),
        "LOAD_PROBE_WORK_MS": str(args.work_ms),
    }
    serve_args = ("--workers", str(workers), "--modules", AGENT_MODULE, "--log-level", "WARNING")
    with running_server(*serve_args, env=env) as server:
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        clients = [
            context.Process(
                target=_client,
                args=(
                    server.address,
                    args.connections,
                    args.concurrency,
                    args.warmup,
                    args.duration,
                    queue,
                ),
            )
            for _ in range(args.clients)
        ]
        for process in clients:
            process.start()
        outcomes = [queue.get(timeout=args.warmup + args.duration + 120) for _ in clients]
        for process in clients:
            process.join()
    calls = sum(o[0] for o in outcomes)
    latencies = sorted(lat for o in outcomes for lat in o[2])
    p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else 0.0
    return Result(
        workers=workers,
        calls=calls,
        errors=sum(o[1] for o in outcomes),
        seconds=args.duration,
        calls_per_second=calls / args.duration,
        p50_ms=1000 * (statistics.median(latencies) if latencies else 0.0),
        p99_ms=1000 * p99,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the load test and print a table (and JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--duration", type=float, default=8.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--connections", type=int, default=4, help="channels per client")
    parser.add_argument("--concurrency", type=int, default=32, help="calls in flight per client")
    parser.add_argument("--work-ms", type=float, default=2.0, help="CPU per GetTask in the agent")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    print(
        f"cpus={os.cpu_count()} clients={args.clients}x{args.concurrency} in flight "
        f"over {args.connections} connections each, agent work {args.work_ms} ms/call",
        flush=True,
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="agenthost-load-") as tmp:
        Path(tmp, f"{AGENT_MODULE}.py").write_text(textwrap.dedent(AGENT_SOURCE))
        for workers in args.workers:
            result = measure(workers, Path(tmp), args)
            results.append(result)
            print(
                f"workers={result.workers}: {result.calls_per_second:8.1f} calls/s  "
                f"p50 {result.p50_ms:6.1f} ms  p99 {result.p99_ms:6.1f} ms  "
                f"errors {result.errors}",
                flush=True,
            )
    if len(results) > 1 and results[0].calls_per_second:
        base = results[0].calls_per_second
        ratios = ", ".join(f"{r.workers}: x{r.calls_per_second / base:.2f}" for r in results[1:])
        print(f"speed-up vs workers={results[0].workers}: {ratios}")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
