"""Metrics of ``--workers N``: one scrape for every worker, through prometheus_client's
multiprocess mode.

Each worker records its calls into memory-mapped files in a directory the supervisor owns
(``SharedMetrics``); the supervisor serves ``--metrics-port`` alone, and its registry
(``supervisor_registry``) merges the files with prometheus_client's ``MultiProcessCollector``:
counters and summaries are summed over the workers, ``agenthost_requests_in_flight`` and the
request-bytes budget's gauges are summed over the live workers (each worker has a budget of its
own, written every ``BUDGET_REFRESH`` seconds), ``agenthost_plugin_load_failures`` is their
maximum. The ``process_*`` metrics are read from ``/proc`` for each worker and the supervisor,
with a ``worker`` label (``0`` .. ``N-1``, ``supervisor``).

Restarts: a worker's files are named after its index, not its pid (``process_identifier``), so
a restarted worker reopens the files of the one it replaces: counters continue where they
were (no reset, no new files), and the supervisor deletes the dead worker's live gauges
(``mark_process_dead``) before starting its replacement. The files hold one entry per label
combination, which is bounded (task types no agent serves are labelled ``unknown``).

Single-process servers never import this module: they count in plain dictionaries
(``agenthost.server.metrics``).
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from agenthost.server.metrics import (
    BUDGET_GAUGES,
    CALL_LABELS,
    FAILURE,
    FAILURE_LABELS,
    IN_FLIGHT,
    IN_FLIGHT_LABELS,
    INPUT_BYTES,
    INPUT_LABELS,
    LATENCY,
    PLUGIN_LOAD_FAILURES,
    SUCCESS,
    Metrics,
    OperationMetrics,
    budget_values,
    failure_codes,
)

if TYPE_CHECKING:
    from agenthost.server.admission import Admission

BUDGET_REFRESH = 1.0
"""Seconds between two writes of a worker's request-bytes budget gauges."""

DIRECTORY_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""The environment variable prometheus_client's multiprocess mode reads its directory from."""


def _identifier(worker_index: int) -> str:
    # prometheus_client splits file names on "_", so no underscore here.
    return f"w{worker_index}"


class _SharedOperation(OperationMetrics):
    """``OperationMetrics`` recorded into the worker's multiprocess files."""

    __slots__ = ("_children", "_failure", "_gauge", "_in_flight", "_latency", "_success")

    def __init__(self, name: str, protocol: str, families: dict[str, Any]) -> None:
        self._success = families[SUCCESS]
        self._failure = families[FAILURE]
        self._latency = families[LATENCY]
        self._gauge = families[IN_FLIGHT].labels(name, protocol)
        self._in_flight = 0
        self._children: dict[str, tuple[Any, Any]] = {}
        super().__init__(name, protocol)

    @property  # type: ignore[override]
    def in_flight(self) -> int:
        """Calls of this operation in flight in this worker."""
        return self._in_flight

    @in_flight.setter
    def in_flight(self, value: int) -> None:
        self._in_flight = value
        self._gauge.set(value)

    def _series(self, task_type: str) -> tuple[Any, Any]:
        series = self._children.get(task_type)
        if series is None:
            series = self._children[task_type] = (
                self._success.labels(task_type, self.name, self.protocol),
                self._latency.labels(task_type, self.name, self.protocol),
            )
        return series

    def success(self, task_type: str, seconds: float) -> None:
        """Count a successful call and its latency."""
        success, latency = self._series(task_type)
        success.inc()
        latency.observe(seconds)

    def failure(self, task_type: str, code: str, seconds: float) -> None:
        """Count a failed call (by status code name) and its latency."""
        self._failure.labels(task_type, self.name, self.protocol, *failure_codes(code)).inc()
        self._series(task_type)[1].observe(seconds)


class SharedMetrics(Metrics):
    """A worker's ``Metrics``, written to the supervisor's multiprocess directory ``directory``
    under the name of worker ``worker_index``. Create it before any other prometheus_client
    metric of the process."""

    def __init__(self, directory: str, worker_index: int) -> None:
        os.environ[DIRECTORY_ENV] = directory
        from prometheus_client import Counter, Gauge, Summary, values

        # One file set per worker slot, reused across restarts (see the module docstring).
        identifier = _identifier(worker_index)
        values.ValueClass = values.MultiProcessValue(  # type: ignore[no-untyped-call]
            lambda: identifier
        )
        self._families: dict[str, Any] = {
            SUCCESS: Counter(
                SUCCESS, "Total number of successful requests", CALL_LABELS, registry=None
            ),
            FAILURE: Counter(
                FAILURE, "Total number of failed requests", FAILURE_LABELS, registry=None
            ),
            LATENCY: Summary(
                LATENCY, "Time spent processing agent requests", CALL_LABELS, registry=None
            ),
            INPUT_BYTES: Summary(
                INPUT_BYTES, "Size of input literals", INPUT_LABELS, registry=None
            ),
            IN_FLIGHT: Gauge(
                IN_FLIGHT,
                "Requests being processed",
                IN_FLIGHT_LABELS,
                registry=None,
                multiprocess_mode="livesum",
            ),
            PLUGIN_LOAD_FAILURES: Gauge(
                PLUGIN_LOAD_FAILURES,
                "Plugins that failed to load (1 per failed plugin)",
                ["plugin"],
                registry=None,
                multiprocess_mode="livemax",
            ),
        }
        self._operations: dict[tuple[str, str], OperationMetrics] = {}
        self._input_children: dict[tuple[str, str], Any] = {}
        self._budget_writer: asyncio.Task[None] | None = None

    def operation(self, name: str, protocol: str) -> OperationMetrics:
        """The recorder of ``name``'s calls over ``protocol`` (the same one on every call)."""
        key = (name, protocol)
        recorder = self._operations.get(key)
        if recorder is None:
            recorder = self._operations[key] = _SharedOperation(name, protocol, self._families)
        return recorder

    def input_bytes(self, task_type: str, size: int, protocol: str) -> None:
        """Record the size of a request's input literals."""
        key = (task_type, protocol)
        child = self._input_children.get(key)
        if child is None:
            child = self._input_children[key] = self._families[INPUT_BYTES].labels(*key)
        child.observe(size)

    def plugin_failed(self, plugin: str) -> None:
        """Record a plugin that failed to load."""
        self._families[PLUGIN_LOAD_FAILURES].labels(plugin).set(1)

    def watch_admission(self, admission: Admission) -> None:
        """Write ``admission``'s budget gauges every ``BUDGET_REFRESH`` seconds, from a task
        of the running event loop (the supervisor, which serves the scrape, cannot read this
        worker's memory); ``close`` stops it."""
        from prometheus_client import Gauge

        gauges = {
            name: Gauge(name, text, registry=None, multiprocess_mode="livesum")
            for name, text in BUDGET_GAUGES.items()
        }

        async def write() -> None:
            while True:
                for name, value in budget_values(admission).items():
                    gauges[name].set(value)
                await asyncio.sleep(BUDGET_REFRESH)

        self._budget_writer = asyncio.get_running_loop().create_task(write())

    def close(self) -> None:
        """Stop writing the budget gauges."""
        if self._budget_writer is not None:
            self._budget_writer.cancel()
            self._budget_writer = None


def forget_worker(directory: str, worker_index: int) -> None:
    """Drop the live gauges of worker ``worker_index``, which has exited."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(  # type: ignore[no-untyped-call]
        _identifier(worker_index), directory
    )


def supervisor_registry(directory: str, pids: Callable[[], dict[str, int]]) -> Any:
    """The registry the supervisor serves: the workers' files merged, and the ``process_*``
    metrics of every process ``pids()`` names (``{worker label: pid}``)."""
    from prometheus_client import CollectorRegistry, multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    registry.register(_ProcessesCollector(pids))
    return registry


class _ProcessesCollector:
    """prometheus_client's ``ProcessCollector`` for several processes, one ``worker`` label
    value each."""

    def __init__(self, pids: Callable[[], dict[str, int]]) -> None:
        self._pids = pids

    def collect(self) -> Iterator[Any]:
        from prometheus_client import ProcessCollector
        from prometheus_client.core import Metric

        merged: dict[str, Metric] = {}
        for worker, pid in self._pids().items():
            collector = ProcessCollector(pid=functools.partial(int, pid), registry=None)
            for family in collector.collect():
                into = merged.get(family.name)
                if into is None:
                    into = merged[family.name] = Metric(
                        family.name, family.documentation, family.type
                    )
                for sample in family.samples:
                    into.add_sample(sample.name, {**sample.labels, "worker": worker}, sample.value)
        yield from merged.values()
