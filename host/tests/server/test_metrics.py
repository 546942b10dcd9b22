"""``agenthost.server.metrics`` in-process: what a scrape shows after recorded calls."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from agenthost.server.metrics import Metrics


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, keyed by name and sorted labels."""
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_calls_are_counted_with_their_labels() -> None:
    metrics = Metrics()
    for _ in range(3):
        metrics.enter("get")
        metrics.success("bq", "get", 0.25)
        metrics.leave("get")
    metrics.enter("create")
    metrics.failure("bq", "create", "INVALID_ARGUMENT", 0.5)
    metrics.leave("create")
    metrics.input_bytes("bq", 100)
    metrics.input_bytes("bq", 50)

    got = samples(metrics)
    get = (("operation", "get"), ("task_type", "bq"))
    create = (("operation", "create"), ("task_type", "bq"))
    assert got[("flyte_connector_requests_success_total", get)] == 3
    assert ("flyte_connector_requests_success_total", create) not in got
    failed = (("error_code", "INVALID_ARGUMENT"), *create)
    assert got[("flyte_connector_requests_failure_total", failed)] == 1
    assert got[("flyte_connector_request_latency_seconds_count", get)] == 3
    assert got[("flyte_connector_request_latency_seconds_sum", get)] == 0.75
    assert got[("flyte_connector_request_latency_seconds_count", create)] == 1
    assert got[("flyte_connector_input_literal_bytes_count", (("task_type", "bq"),))] == 2
    assert got[("flyte_connector_input_literal_bytes_sum", (("task_type", "bq"),))] == 150
    assert got[("agenthost_requests_in_flight", (("operation", "get"),))] == 0


def test_in_flight_counts_calls_between_enter_and_leave() -> None:
    metrics = Metrics()
    metrics.enter("do")
    metrics.enter("do")
    metrics.enter("get")
    metrics.leave("do")
    got = samples(metrics)
    assert got[("agenthost_requests_in_flight", (("operation", "do"),))] == 1
    assert got[("agenthost_requests_in_flight", (("operation", "get"),))] == 1


def test_plugin_failures_and_process_metrics_are_exported() -> None:
    metrics = Metrics()
    metrics.plugin_failed("agent-broken")
    got = samples(metrics)
    assert got[("agenthost_plugin_load_failures", (("plugin", "agent-broken"),))] == 1
    assert any(name == "process_resident_memory_bytes" for name, _ in got)
