"""Soak: mixed create/get/delete/ExecuteTaskSync/sensor traffic at concurrency 64 against one
server for ``AGENTHOST_SOAK_SECONDS`` (default 10 here; the reliability session runs 600).
Zero errors, RSS growth under 10% after warm-up, latency of the last third close to the first."""

from __future__ import annotations

import os
from pathlib import Path

from rel_load import run_load, soak_table
from reliability_kit import record, rel_server

from agenthost.testing import free_port

SECONDS = float(os.environ.get("AGENTHOST_SOAK_SECONDS", "10"))
CONCURRENCY = int(os.environ.get("AGENTHOST_SOAK_CONCURRENCY", "64"))
MAX_RSS_GROWTH = 0.10


def test_soak_mixed_traffic(markers: Path, tmp_path: Path) -> None:
    sensor_path = tmp_path / "exists"
    sensor_path.write_text("here")
    metrics_port = free_port()
    with rel_server(markers, "--metrics-port", str(metrics_port)) as server:
        figures = run_load(
            server.address,
            server.process.pid,
            SECONDS,
            CONCURRENCY,
            str(sensor_path),
            metrics_port,
        )
        assert server.process.poll() is None
    for name, value in soak_table(figures):
        record("soak", name, value)
    assert figures.calls > 0
    assert figures.errors == {}
    _, _, growth = figures.rss_growth()
    assert growth < MAX_RSS_GROWTH, f"RSS grew {growth:.1%} after warm-up"
    (first_p50, first_p99), _, (last_p50, last_p99) = figures.thirds()
    assert last_p50 <= 2 * first_p50 + 0.005, (first_p50, last_p50)
    assert last_p99 <= 3 * first_p99 + 0.050, (first_p99, last_p99)
