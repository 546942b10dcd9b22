"""Prometheus metrics, named like flytekit's connector server so existing dashboards work:
``flyte_connector_requests_success_total``, ``flyte_connector_requests_failure_total``
(``error_code`` holds an HTTP-style code as flytekit's server writes it on Python 3.11, ``"404"``
or ``"500"``, and ``grpc_code`` the gRPC status name), ``flyte_connector_request_latency_seconds``,
``flyte_connector_input_literal_bytes``; plus ``agenthost_requests_in_flight``,
``agenthost_plugin_load_failures`` and the request-bytes budget's gauges (``BUDGET_GAUGES``,
read from ``agenthost.server.admission`` at scrape time). Labels: ``task_type``, ``operation``
and ``protocol`` (``v1`` or ``v2``, the protocol a call came in on; see ``CALL_LABELS``). The
standard ``process_*`` metrics (resident memory, CPU, open file descriptors) are exported too, so
a plugin that leaks memory shows up as a rising ``process_resident_memory_bytes``.

Calls are counted in plain dictionaries, without prometheus_client's per-sample locks: every
call is recorded on the event loop's thread, and scrapes are served from that thread too.
Task types that no agent serves are labelled ``unknown`` to bound the label set.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

    from agenthost.server.admission import Admission

PREFIX = "flyte_connector_"

LATENCY = f"{PREFIX}request_latency_seconds"
SUCCESS = f"{PREFIX}requests_success"
FAILURE = f"{PREFIX}requests_failure"
INPUT_BYTES = f"{PREFIX}input_literal_bytes"
IN_FLIGHT = "agenthost_requests_in_flight"
PLUGIN_LOAD_FAILURES = "agenthost_plugin_load_failures"
BYTES_RESERVED = "agenthost_request_bytes_reserved"
READS_IN_PROGRESS = "agenthost_request_reads_in_progress"
READS_WAITING = "agenthost_request_reads_waiting"

BUDGET_GAUGES = {
    BYTES_RESERVED: "Bytes of --max-request-bytes reserved by request reads and held by calls",
    READS_IN_PROGRESS: "Request reads that hold a reservation and wait for their message",
    READS_WAITING: "Request reads waiting for request-bytes budget before they start",
}
"""The request-bytes budget's gauges and their help texts. Reads in progress that stay at
``--max-request-bytes / --max-message-size`` while reads wait are clients that opened calls
and send nothing (docs/reliability.md, Limits)."""

HTTP_CODES: dict[str, str] = {
    "CANCELLED": "499",
    "UNKNOWN": "500",
    "INVALID_ARGUMENT": "400",
    "DEADLINE_EXCEEDED": "504",
    "NOT_FOUND": "404",
    "ALREADY_EXISTS": "409",
    "PERMISSION_DENIED": "403",
    "RESOURCE_EXHAUSTED": "429",
    "FAILED_PRECONDITION": "400",
    "ABORTED": "409",
    "OUT_OF_RANGE": "400",
    "UNIMPLEMENTED": "501",
    "INTERNAL": "500",
    "UNAVAILABLE": "503",
    "DATA_LOSS": "500",
    "UNAUTHENTICATED": "401",
}
"""The ``error_code`` label for each gRPC status: flytekit's server counts an unknown task type
as ``404`` and every other failure as ``500`` (``HTTPStatus``, written as its number on Python
3.11); the other statuses take the HTTP code gRPC's own HTTP mapping gives them."""

CALL_LABELS = ("task_type", "operation", "protocol")
"""Labels of the call series (success, latency): flytekit's ``task_type`` and ``operation``,
and ``protocol``, the protocol the call came in on (``v1``: flyteidl agent services, ``v2``:
flyteidl2 connector services), so an operator sees when one protocol's traffic has ended. Each
protocol adapter records into recorders of its own, so the label costs a call nothing."""

FAILURE_LABELS = (*CALL_LABELS, "error_code", "grpc_code")
"""Labels of ``flyte_connector_requests_failure_total``."""

IN_FLIGHT_LABELS = ("operation", "protocol")
"""Labels of ``agenthost_requests_in_flight``."""

INPUT_LABELS = ("task_type", "protocol")
"""Labels of ``flyte_connector_input_literal_bytes``."""


def failure_codes(code: str) -> tuple[str, str]:
    """The ``error_code`` and ``grpc_code`` label values of a call that failed with the gRPC
    status named ``code``."""
    return HTTP_CODES.get(code, "500"), code


class _Series:
    """A count and a sum of one label combination, and when it was first recorded."""

    __slots__ = ("count", "created", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.created = time.time()


class _Calls(_Series):
    """Every call of one operation for one task type: how many, their total seconds, and how
    many succeeded."""

    __slots__ = ("succeeded",)

    def __init__(self) -> None:
        super().__init__()
        self.succeeded = 0


class OperationMetrics:
    """The calls of one operation (``create``, ``get``, ...) over one protocol, from
    ``Metrics.operation``.

    ``in_flight`` is raised when a call starts and lowered when it ends, however it ends;
    ``success`` or ``failure`` records how it ended. Use from the event loop's thread only.
    """

    __slots__ = ("_calls", "_failures", "in_flight", "name", "protocol")

    def __init__(self, name: str, protocol: str) -> None:
        self.name = name
        self.protocol = protocol
        self.in_flight = 0
        self._calls: dict[str, _Calls] = {}
        self._failures: dict[tuple[str, str], _Series] = {}

    def success(self, task_type: str, seconds: float) -> None:
        """Count a successful call and its latency."""
        calls = self._calls.get(task_type)
        if calls is None:
            calls = self._calls[task_type] = _Calls()
        calls.succeeded += 1
        calls.count += 1
        calls.total += seconds

    def failure(self, task_type: str, code: str, seconds: float) -> None:
        """Count a failed call (by status code name) and its latency."""
        key = (task_type, code)
        series = self._failures.get(key)
        if series is None:
            series = self._failures[key] = _Series()
        series.count += 1
        calls = self._calls.get(task_type)
        if calls is None:
            calls = self._calls[task_type] = _Calls()
        calls.count += 1
        calls.total += seconds


class Metrics:
    """The server's metrics in their own registry (served by
    ``agenthost.server.metrics_http.MetricsListener``; with ``--workers N``, each worker has a
    ``agenthost.server.metrics_shared.SharedMetrics`` instead).

    Calls are recorded per operation (``operation``); the rest of the methods record the
    other series. Call them from the event loop's thread only.
    """

    def __init__(self) -> None:
        self._operations: dict[tuple[str, str], OperationMetrics] = {}
        self._input_bytes: dict[tuple[str, str], _Series] = {}
        self._plugin_failures: list[str] = []
        self._admission: Admission | None = None

    @functools.cached_property
    def registry(self) -> CollectorRegistry:
        """The ``CollectorRegistry`` these metrics are exported from (with the ``process_*``
        metrics), made on first use: prometheus_client is imported at the first scrape, not
        while the server starts."""
        from prometheus_client import CollectorRegistry, ProcessCollector

        registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=registry)
        registry.register(_CallCollector(self))
        return registry

    def collect(self) -> Iterable[Metric]:
        """Every metric family, as ``registry.collect()`` gives them: this object can be
        served, or passed to ``generate_latest``, in place of its registry."""
        return self.registry.collect()

    def operation(self, name: str, protocol: str) -> OperationMetrics:
        """The recorder of ``name``'s calls over ``protocol`` (the same one on every call)."""
        key = (name, protocol)
        recorder = self._operations.get(key)
        if recorder is None:
            recorder = self._operations[key] = OperationMetrics(name, protocol)
        return recorder

    def input_bytes(self, task_type: str, size: int, protocol: str) -> None:
        """Record the size of a request's input literals."""
        key = (task_type, protocol)
        series = self._input_bytes.get(key)
        if series is None:
            series = self._input_bytes[key] = _Series()
        series.count += 1
        series.total += size

    def plugin_failed(self, plugin: str) -> None:
        """Record a plugin that failed to load."""
        if plugin not in self._plugin_failures:
            self._plugin_failures.append(plugin)

    def watch_admission(self, admission: Admission) -> None:
        """Export ``admission``'s request-bytes budget (``BUDGET_GAUGES``), read at each
        scrape, so a call pays nothing for it."""
        self._admission = admission

    def close(self) -> None:
        """Stop whatever these metrics run in the background (nothing, in one process)."""


def budget_values(admission: Admission) -> dict[str, int]:
    """The value of each of ``BUDGET_GAUGES`` for ``admission`` now."""
    return {
        BYTES_RESERVED: admission.budget.in_use,
        READS_IN_PROGRESS: admission.reads_in_progress,
        READS_WAITING: admission.reads_waiting,
    }


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

        operations = list(self._metrics._operations.values())
        success = CounterMetricFamily(
            SUCCESS, "Total number of successful requests", labels=list(CALL_LABELS)
        )
        failure = CounterMetricFamily(
            FAILURE,
            "Total number of failed requests",
            labels=list(FAILURE_LABELS),
        )
        latency = SummaryMetricFamily(
            LATENCY, "Time spent processing agent requests", labels=list(CALL_LABELS)
        )
        in_flight = GaugeMetricFamily(
            IN_FLIGHT, "Requests being processed", labels=list(IN_FLIGHT_LABELS)
        )
        for op in operations:
            for task_type, calls in op._calls.copy().items():
                labels = [task_type, op.name, op.protocol]
                if calls.succeeded:
                    success.add_metric(labels, calls.succeeded, created=calls.created)
                latency.add_metric(labels, calls.count, calls.total)
            for (task_type, code), series in op._failures.copy().items():
                labels = [task_type, op.name, op.protocol, *failure_codes(code)]
                failure.add_metric(labels, series.count, created=series.created)
            in_flight.add_metric([op.name, op.protocol], op.in_flight)
        sizes = SummaryMetricFamily(
            INPUT_BYTES, "Size of input literals", labels=list(INPUT_LABELS)
        )
        for (task_type, protocol), series in self._metrics._input_bytes.copy().items():
            sizes.add_metric([task_type, protocol], series.count, series.total)
        plugins = GaugeMetricFamily(
            PLUGIN_LOAD_FAILURES,
            "Plugins that failed to load (1 per failed plugin)",
            labels=["plugin"],
        )
        for plugin in self._metrics._plugin_failures:
            plugins.add_metric([plugin], 1)
        yield from (success, failure, latency, sizes, in_flight, plugins)
        admission = self._metrics._admission
        if admission is not None:
            for name, value in budget_values(admission).items():
                yield GaugeMetricFamily(name, BUDGET_GAUGES[name], value=value)
