"""Prometheus metrics, named like flytekit's connector server so existing dashboards work:
``flyte_connector_requests_success_total``, ``flyte_connector_requests_failure_total``
(with ``error_code``), ``flyte_connector_request_latency_seconds``,
``flyte_connector_input_literal_bytes``; plus ``agenthost_requests_in_flight`` and
``agenthost_plugin_load_failures``. Labels: ``task_type`` and ``operation``. The standard
``process_*`` metrics (resident memory, CPU, open file descriptors) are exported too, so a
plugin that leaks memory shows up as a rising ``process_resident_memory_bytes``.

Label children are cached per (task type, operation) so a call does no label lookups.
Task types that no agent serves are labelled ``unknown`` to bound the label set.
"""

from __future__ import annotations

from typing import Any

PREFIX = "flyte_connector_"


class Metrics:
    """The server's metrics in their own registry (served by ``start_http``)."""

    def __init__(self) -> None:
        from prometheus_client import (
            CollectorRegistry,
            Counter,
            Gauge,
            ProcessCollector,
            Summary,
        )

        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        self._success = Counter(
            f"{PREFIX}requests_success",
            "Total number of successful requests",
            ["task_type", "operation"],
            registry=self.registry,
        )
        self._failure = Counter(
            f"{PREFIX}requests_failure",
            "Total number of failed requests",
            ["task_type", "operation", "error_code"],
            registry=self.registry,
        )
        self._latency = Summary(
            f"{PREFIX}request_latency_seconds",
            "Time spent processing agent requests",
            ["task_type", "operation"],
            registry=self.registry,
        )
        self._input_bytes = Summary(
            f"{PREFIX}input_literal_bytes",
            "Size of input literals",
            ["task_type"],
            registry=self.registry,
        )
        self._in_flight = Gauge(
            "agenthost_requests_in_flight",
            "Requests being processed",
            ["operation"],
            registry=self.registry,
        )
        self._plugin_failures = Gauge(
            "agenthost_plugin_load_failures",
            "Plugins that failed to load (1 per failed plugin)",
            ["plugin"],
            registry=self.registry,
        )
        self._ok_children: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._in_flight_children: dict[str, Any] = {}
        self._input_children: dict[str, Any] = {}

    def in_flight(self, operation: str) -> Any:
        """The in-flight gauge child for ``operation``."""
        child = self._in_flight_children.get(operation)
        if child is None:
            child = self._in_flight_children[operation] = self._in_flight.labels(operation)
        return child

    def success(self, task_type: str, operation: str, seconds: float) -> None:
        """Count a successful call and its latency."""
        key = (task_type, operation)
        children = self._ok_children.get(key)
        if children is None:
            children = self._ok_children[key] = (
                self._success.labels(task_type, operation),
                self._latency.labels(task_type, operation),
            )
        children[0].inc()
        children[1].observe(seconds)

    def failure(self, task_type: str, operation: str, code: str, seconds: float) -> None:
        """Count a failed call (by status code name) and its latency."""
        self._failure.labels(task_type, operation, code).inc()
        self._latency.labels(task_type, operation).observe(seconds)

    def input_bytes(self, task_type: str, size: int) -> None:
        """Record the size of a request's input literals."""
        child = self._input_children.get(task_type)
        if child is None:
            child = self._input_children[task_type] = self._input_bytes.labels(task_type)
        child.observe(size)

    def plugin_failed(self, plugin: str) -> None:
        """Record a plugin that failed to load."""
        self._plugin_failures.labels(plugin).set(1)

    def start_http(self, port: int, host: str = "0.0.0.0") -> int:
        """Serve ``/metrics`` on ``port`` in a daemon thread; return the bound port."""
        from prometheus_client import start_http_server

        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return int(server.server_address[1])
