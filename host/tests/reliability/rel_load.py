"""Load generation against a running server: mixed create/get/delete/ExecuteTaskSync/sensor
traffic from ``concurrency`` concurrent clients (grpc.aio in a thread of the test process; the
server is its own process), with latencies, errors and the server's RSS sampled over time."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import grpc
from flyteidl.admin import agent_pb2
from flyteidl.service import agent_pb2_grpc
from reliability_kit import rss_bytes, scrape

from agenthost.testing import make_inputs, make_template


@dataclass
class LoadFigures:
    """What a load run measured."""

    seconds: float
    concurrency: int
    calls: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: dict[str, str] = field(default_factory=dict)
    """One example of the details of each error code."""
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
            out.append((percentile(window, 50), percentile(window, 99)))
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


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    index = min(len(values) - 1, max(0, round(pct / 100 * (len(values) - 1))))
    return values[index]


class _Traffic:
    """One client's cycle of calls."""

    def __init__(self, channel: grpc.aio.Channel, sensor_path: str) -> None:
        self.async_stub = agent_pb2_grpc.AsyncAgentServiceStub(channel)
        self.sync_stub = agent_pb2_grpc.SyncAgentServiceStub(channel)
        fast = make_template("fast_async", inputs={"x": int}, outputs={"y": int})
        self.fast_create = agent_pb2.CreateTaskRequest(
            template=fast, inputs=make_inputs(fast, {"x": 3}), output_prefix="s3://soak"
        )
        self.echo = make_template("echo_sync", inputs={"prompt": str}, outputs={"out": str})
        self.echo_inputs = make_inputs(self.echo, {"prompt": "soak"})
        sensor = make_template(
            "sensor",
            inputs={"path": str},
            custom={"sensor_module": "tests.sensors", "sensor_name": "PathSensor"},
        )
        self.sensor_create = agent_pb2.CreateTaskRequest(
            template=sensor, inputs=make_inputs(sensor, {"path": sensor_path})
        )
        self.fast = agent_pb2.TaskCategory(name="fast_async")
        self.sensor = agent_pb2.TaskCategory(name="sensor")

    async def cycle(self, step: int, timed: Any) -> None:
        kind = step % 3
        if kind == 0:
            meta = (
                await timed(self.async_stub.CreateTask(self.fast_create, timeout=30))
            ).resource_meta
            await timed(
                self.async_stub.GetTask(
                    agent_pb2.GetTaskRequest(task_category=self.fast, resource_meta=meta),
                    timeout=30,
                )
            )
            await timed(
                self.async_stub.DeleteTask(
                    agent_pb2.DeleteTaskRequest(task_category=self.fast, resource_meta=meta),
                    timeout=30,
                )
            )
        elif kind == 1:
            requests = [
                agent_pb2.ExecuteTaskSyncRequest(
                    header=agent_pb2.CreateRequestHeader(template=self.echo)
                ),
                agent_pb2.ExecuteTaskSyncRequest(inputs=self.echo_inputs),
            ]

            async def sync_call() -> Any:
                return [r async for r in self.sync_stub.ExecuteTaskSync(iter(requests), timeout=30)]

            await timed(sync_call())
        else:
            meta = (
                await timed(self.async_stub.CreateTask(self.sensor_create, timeout=30))
            ).resource_meta
            await timed(
                self.async_stub.GetTask(
                    agent_pb2.GetTaskRequest(task_category=self.sensor, resource_meta=meta),
                    timeout=30,
                )
            )


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
    start = time.monotonic()
    deadline = start + figures.seconds

    async def timed(awaitable: Any) -> Any:
        began = time.monotonic()
        try:
            return await awaitable
        finally:
            figures.latencies.append((began - start, time.monotonic() - began))
            figures.calls += 1

    async def client(index: int, channel: grpc.aio.Channel) -> None:
        traffic = _Traffic(channel, sensor_path)
        step = index
        while time.monotonic() < deadline:
            try:
                await traffic.cycle(step, timed)
            except grpc.RpcError as error:
                code = error.code().name if hasattr(error, "code") else type(error).__name__
                figures.errors[code] = figures.errors.get(code, 0) + 1
                figures.error_samples.setdefault(f"{code} kind {step % 3}", str(error.details()))
            step += 1

    async def sampler() -> None:
        loop = asyncio.get_running_loop()
        while time.monotonic() < deadline:
            now = time.monotonic() - start
            try:
                figures.rss.append((now, rss_bytes(pid)))
                if metrics_port is not None:
                    total, count = await loop.run_in_executor(None, _latency_totals, metrics_port)
                    figures.server_time.append((now, total, count))
            except OSError:  # the server is gone (a shutdown test stopped it)
                return
            await asyncio.sleep(0.5)

    channels = [grpc.aio.insecure_channel(address) for _ in range(4)]
    try:
        await asyncio.gather(
            sampler(),
            *(client(i, channels[i % len(channels)]) for i in range(figures.concurrency)),
        )
    finally:
        for channel in channels:
            await channel.close()


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
