"""What recording one call's metrics costs, in memory (single process) and in prometheus_client's
multiprocess files (``--workers N``): ``python bench/investigations/metrics_record.py`` with
agenthost installed. Records what one CreateTask does: in-flight up and down, a success with its
latency, and the size of its inputs. Supports the "metrics recording" figure of
``bench/README.md`` and ``docs/operations.md``."""

from __future__ import annotations

import tempfile
import timeit

CALLS = 50_000


def per_call(metrics: object) -> float:
    """Best of five runs, in microseconds per recorded call."""
    op = metrics.operation("create", "v1")  # type: ignore[attr-defined]

    def call() -> None:
        op.in_flight += 1
        op.success("bigquery_query_job_task", 0.001)
        op.in_flight -= 1
        metrics.input_bytes("bigquery_query_job_task", 100, "v1")  # type: ignore[attr-defined]

    return min(timeit.repeat(call, number=CALLS, repeat=5)) / CALLS * 1e6


def main() -> None:
    from agenthost.server.metrics import Metrics

    print(f"in memory (single process): {per_call(Metrics()):.2f} us per call")
    from agenthost.server.metrics_shared import SharedMetrics

    with tempfile.TemporaryDirectory() as directory:
        shared = per_call(SharedMetrics(directory, 0))
    print(f"multiprocess files (--workers): {shared:.2f} us per call")


if __name__ == "__main__":
    main()
