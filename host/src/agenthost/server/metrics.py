"""Prometheus metrics, named like flytekit's connector server so existing dashboards work:
``flyte_connector_requests_success_total``, ``flyte_connector_requests_failure_total``
(with ``error_code``), ``flyte_connector_request_latency_seconds``,
``flyte_connector_input_literal_bytes``; plus ``agenthost_requests_in_flight`` and
``agenthost_plugin_load_failures``. Labels: ``task_type`` and ``operation``. The standard
``process_*`` metrics (resident memory, CPU, open file descriptors) are exported too, so a
plugin that leaks memory shows up as a rising ``process_resident_memory_bytes``.

Calls are counted in plain dictionaries, without prometheus_client's per-sample locks: every
call is recorded on the event loop's thread, and a scrape (on the HTTP server's thread) reads
copies of them. Task types that no agent serves are labelled ``unknown`` to bound the label set.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

PREFIX = "flyte_connector_"

LATENCY = f"{PREFIX}request_latency_seconds"
SUCCESS = f"{PREFIX}requests_success"
FAILURE = f"{PREFIX}requests_failure"
INPUT_BYTES = f"{PREFIX}input_literal_bytes"
IN_FLIGHT = "agenthost_requests_in_flight"


class _Series:
    """A count and a sum of one label combination, and when it was first recorded."""

    __slots__ = ("count", "created", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.created = time.time()


class Metrics:
    """The server's metrics in their own registry (served by ``start_http``).

    ``enter``/``leave`` bracket a call; ``success`` or ``failure`` records how it ended.
    Call them from the event loop's thread only.
    """

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Gauge, ProcessCollector

        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        self._success: dict[tuple[str, str], _Series] = {}
        self._failure: dict[tuple[str, str, str], _Series] = {}
        self._latency: dict[tuple[str, str], _Series] = {}
        self._input_bytes: dict[str, _Series] = {}
        self._in_flight: dict[str, int] = {}
        self.registry.register(_CallCollector(self))
        self._plugin_failures = Gauge(
            "agenthost_plugin_load_failures",
            "Plugins that failed to load (1 per failed plugin)",
            ["plugin"],
            registry=self.registry,
        )

    def enter(self, operation: str) -> None:
        """A call of ``operation`` starts (counted in ``agenthost_requests_in_flight``)."""
        in_flight = self._in_flight
        in_flight[operation] = in_flight.get(operation, 0) + 1

    def leave(self, operation: str) -> None:
        """A call of ``operation`` has ended, however it ended."""
        self._in_flight[operation] -= 1

    def success(self, task_type: str, operation: str, seconds: float) -> None:
        """Count a successful call and its latency."""
        key = (task_type, operation)
        series = self._success.get(key)
        if series is None:
            series = self._success[key] = _Series()
        series.count += 1
        self._observe_latency(key, seconds)

    def failure(self, task_type: str, operation: str, code: str, seconds: float) -> None:
        """Count a failed call (by status code name) and its latency."""
        key = (task_type, operation, code)
        series = self._failure.get(key)
        if series is None:
            series = self._failure[key] = _Series()
        series.count += 1
        self._observe_latency((task_type, operation), seconds)

    def _observe_latency(self, key: tuple[str, str], seconds: float) -> None:
        series = self._latency.get(key)
        if series is None:
            series = self._latency[key] = _Series()
        series.count += 1
        series.total += seconds

    def input_bytes(self, task_type: str, size: int) -> None:
        """Record the size of a request's input literals."""
        series = self._input_bytes.get(task_type)
        if series is None:
            series = self._input_bytes[task_type] = _Series()
        series.count += 1
        series.total += size

    def plugin_failed(self, plugin: str) -> None:
        """Record a plugin that failed to load."""
        self._plugin_failures.labels(plugin).set(1)

    def start_http(self, port: int, host: str = "0.0.0.0") -> int:
        """Serve ``/metrics`` on ``port`` in a daemon thread; return the bound port."""
        from prometheus_client import start_http_server

        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return int(server.server_address[1])


class _CallCollector:
    """Exports the call series of a ``Metrics`` at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            SummaryMetricFamily,
        )

        m = self._metrics
        success = CounterMetricFamily(
            SUCCESS, "Total number of successful requests", labels=["task_type", "operation"]
        )
        for labels, series in m._success.copy().items():
            success.add_metric(labels, series.count, created=series.created)
        yield success
        failure = CounterMetricFamily(
            FAILURE,
            "Total number of failed requests",
            labels=["task_type", "operation", "error_code"],
        )
        for codes, series in m._failure.copy().items():
            failure.add_metric(codes, series.count, created=series.created)
        yield failure
        latency = SummaryMetricFamily(
            LATENCY, "Time spent processing agent requests", labels=["task_type", "operation"]
        )
        for labels, series in m._latency.copy().items():
            latency.add_metric(labels, series.count, series.total)
        yield latency
        sizes = SummaryMetricFamily(INPUT_BYTES, "Size of input literals", labels=["task_type"])
        for task_type, series in m._input_bytes.copy().items():
            sizes.add_metric([task_type], series.count, series.total)
        yield sizes
        in_flight = GaugeMetricFamily(IN_FLIGHT, "Requests being processed", labels=["operation"])
        for operation, count in m._in_flight.copy().items():
            in_flight.add_metric([operation], count)
        yield in_flight
