"""Mixed load against a running server for the soak and shutdown tests: create/get/delete,
ExecuteTaskSync and sensor traffic from ``concurrency`` callers over four connections, built and
driven by the one load generator (``agenthost.testing.load``; grpc.aio in the test process, the
server is its own process), with the server's RSS and its own latency summary sampled over
time."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import grpc
from flyteidl.service import agent_pb2_grpc
from reliability_kit import rss_bytes, scrape

from agenthost.testing import make_inputs, make_template
from agenthost.testing.load import (
    Call,
    create_request,
    delete_request,
    drive,
    get_request,
    percentile,
    sync_requests,
)


@dataclass
class LoadFigures:
    """What a load run measured."""

    seconds: float
    concurrency: int
    calls: int = 0
    """Calls that completed (a create/get/delete cycle counts once)."""
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: dict[str, str] = field(default_factory=dict)
    """One example of the details of each error code, by ``"<code> <call>"``."""
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (time, seconds)
    rss: list[tuple[float, int]] = field(default_factory=list)  # (time, bytes)
    server_time: list[tuple[float, float, float]] = field(default_factory=list)
    """(time, total seconds, calls) of the server's own latency summary, when scraped."""
    warmup: float = 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def _window(self, start: float, end: float) -> list[float]:
        return sorted(lat for t, lat in self.latencies if start <= t < end)

    def thirds(self) -> list[tuple[float, float]]:
        """(p50, p99) in seconds of each third of the post-warm-up period."""
        span = (self.seconds - self.warmup) / 3
        out = []
        for i in range(3):
            window = self._window(self.warmup + i * span, self.warmup + (i + 1) * span)
            out.append((percentile(window, 0.50), percentile(window, 0.99)))
        return out

    def rss_growth(self) -> tuple[int, int, float]:
        """(RSS after warm-up, RSS at the end, relative growth)."""
        after = [b for t, b in self.rss if t >= self.warmup]
        head = after[: max(1, len(after) // 10)]
        tail = after[-max(1, len(after) // 10) :]
        start, end = int(statistics.median(head)), int(statistics.median(tail))
        return start, end, (end - start) / start

    def server_mean_thirds(self) -> list[float]:
        """The server-side mean call latency (seconds) in each third after warm-up, from its
        ``flyte_connector_request_latency_seconds`` summary; empty without metrics."""
        if len(self.server_time) < 4:
            return []
        span = (self.seconds - self.warmup) / 3
        means = []
        for i in range(3):
            lo, hi = self.warmup + i * span, self.warmup + (i + 1) * span
            window = [s for s in self.server_time if lo <= s[0] <= hi]
            if len(window) < 2:
                return []
            (_, s0, c0), (_, s1, c1) = window[0], window[-1]
            means.append((s1 - s0) / max(1.0, c1 - c0))
        return means

    def rss_tenths(self) -> list[int]:
        """The RSS sampled at the end of each tenth of the run."""
        out = []
        for i in range(1, 11):
            until = [b for t, b in self.rss if t <= self.seconds * i / 10]
            if until:
                out.append(until[-1])
        return out

    def throughput(self) -> float:
        return self.calls / self.seconds


def _traffic(channel: grpc.aio.Channel, sensor_path: str) -> list[Call]:
    """One connection's cycle of calls: a fast async task's create, get and delete; an
    ExecuteTaskSync of the echo agent; a sensor's create and first get."""
    async_stub = agent_pb2_grpc.AsyncAgentServiceStub(channel)
    sync_stub = agent_pb2_grpc.SyncAgentServiceStub(channel)
    fast = make_template("fast_async", inputs={"x": int}, outputs={"y": int})
    fast_create = create_request(fast, make_inputs(fast, {"x": 3}), "s3://soak")
    echo = make_template("echo_sync", inputs={"prompt": str}, outputs={"out": str})
    header, inputs = sync_requests(echo, make_inputs(echo, {"prompt": "soak"}))
    sensor = make_template(
        "sensor",
        inputs={"path": str},
        custom={"sensor_module": "tests.sensors", "sensor_name": "PathSensor"},
    )
    sensor_create = create_request(sensor, make_inputs(sensor, {"path": sensor_path}))

    async def create_get_delete() -> None:
        meta = (await async_stub.CreateTask(fast_create, timeout=30)).resource_meta
        await async_stub.GetTask(get_request("fast_async", meta), timeout=30)
        await async_stub.DeleteTask(delete_request("fast_async", meta), timeout=30)

    async def execute_sync() -> None:
        async for _ in sync_stub.ExecuteTaskSync(iter((header, inputs)), timeout=30):
            pass

    async def sense() -> None:
        meta = (await async_stub.CreateTask(sensor_create, timeout=30)).resource_meta
        await async_stub.GetTask(get_request("sensor", meta), timeout=30)

    return [create_get_delete, execute_sync, sense]


def _latency_totals(metrics_port: int) -> tuple[float, float]:
    total = count = 0.0
    for line in scrape(metrics_port).splitlines():
        if line.startswith("flyte_connector_request_latency_seconds_sum{"):
            total += float(line.rsplit(" ", 1)[1])
        elif line.startswith("flyte_connector_request_latency_seconds_count{"):
            count += float(line.rsplit(" ", 1)[1])
    return total, count


async def _run(
    address: str, pid: int, figures: LoadFigures, sensor_path: str, metrics_port: int | None
) -> None:
    start = time.perf_counter()
    deadline = start + figures.seconds

    async def sampler() -> None:
        loop = asyncio.get_running_loop()
        while time.perf_counter() < deadline:
            now = time.perf_counter() - start
            try:
                figures.rss.append((now, rss_bytes(pid)))
                if metrics_port is not None:
                    total, count = await loop.run_in_executor(None, _latency_totals, metrics_port)
                    figures.server_time.append((now, total, count))
            except OSError:  # the server is gone (a shutdown test stopped it)
                return
            await asyncio.sleep(0.5)

    channels = [grpc.aio.insecure_channel(address) for _ in range(4)]
    cycles = [_traffic(channel, sensor_path) for channel in channels]
    # Caller i starts its connection's cycle at call i, so the three kinds run side by side.
    callers = [
        cycles[i % len(cycles)][i % 3 :] + cycles[i % len(cycles)][: i % 3]
        for i in range(figures.concurrency)
    ]
    try:
        _, tally = await asyncio.gather(sampler(), drive(callers, figures.seconds))
    finally:
        for channel in channels:
            await channel.close()
    figures.calls = tally.calls
    figures.errors = tally.errors
    figures.error_samples = tally.error_samples
    figures.latencies = [
        (began / 1e9 - start, took / 1e9) for began, took in zip(tally.began_ns, tally.latency_ns)
    ]


def run_load(
    address: str,
    pid: int,
    seconds: float,
    concurrency: int,
    sensor_path: str,
    metrics_port: int | None = None,
) -> LoadFigures:
    """Drive mixed traffic for ``seconds`` and return the figures (warm-up: the first 20%).
    With ``metrics_port`` the server's own latency summary is sampled too."""
    figures = LoadFigures(seconds=seconds, concurrency=concurrency, warmup=seconds * 0.2)
    asyncio.run(_run(address, pid, figures, sensor_path, metrics_port))
    return figures


def soak_table(figures: LoadFigures) -> list[tuple[str, Any]]:
    """The figures for the summary table."""
    rss_start, rss_end, growth = figures.rss_growth()
    rows: list[tuple[str, Any]] = [
        ("duration s", round(figures.seconds, 1)),
        ("concurrency", figures.concurrency),
        ("calls", figures.calls),
        ("calls per s", round(figures.throughput(), 1)),
        ("errors", figures.error_count),
        ("server RSS after warm-up MiB", round(rss_start / 2**20, 1)),
        ("server RSS at end MiB", round(rss_end / 2**20, 1)),
        ("RSS growth %", round(growth * 100, 2)),
        ("RSS by tenth of the run MiB", " ".join(f"{b / 2**20:.1f}" for b in figures.rss_tenths())),
    ]
    for name, (p50, p99) in zip(("first", "middle", "last"), figures.thirds()):
        rows.append((f"{name} third p50/p99 ms", f"{p50 * 1000:.1f} / {p99 * 1000:.1f}"))
    means = figures.server_mean_thirds()
    if means:
        shown = " / ".join(f"{m * 1000:.2f}" for m in means)
        rows.append(("server-side mean ms (thirds)", shown))
    return rows
