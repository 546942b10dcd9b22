"""``agenthost.server.metrics`` in-process: what a scrape shows after recorded calls."""

from __future__ import annotations

import subprocess
import sys

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from agenthost.server.metrics import Metrics


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, keyed by name and sorted labels."""
    text = generate_latest(metrics).decode()  # type: ignore[arg-type]
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_calls_are_counted_with_their_labels() -> None:
    metrics = Metrics()
    get = metrics.operation("get", "v1")
    for _ in range(3):
        get.in_flight += 1
        get.success("bq", 0.25)
        get.in_flight -= 1
    create = metrics.operation("create", "v1")
    create.failure("bq", "INVALID_ARGUMENT", 0.5)
    create.success("bq", 0.25)
    metrics.input_bytes("bq", 100, "v1")
    metrics.input_bytes("bq", 50, "v1")

    got = samples(metrics)
    get_labels = (("operation", "get"), ("protocol", "v1"), ("task_type", "bq"))
    create_labels = (("operation", "create"), ("protocol", "v1"), ("task_type", "bq"))
    assert got[("flyte_connector_requests_success_total", get_labels)] == 3
    assert got[("flyte_connector_requests_success_total", create_labels)] == 1
    failed = (("error_code", "400"), ("grpc_code", "INVALID_ARGUMENT"), *create_labels)
    assert got[("flyte_connector_requests_failure_total", failed)] == 1
    assert got[("flyte_connector_request_latency_seconds_count", get_labels)] == 3
    assert got[("flyte_connector_request_latency_seconds_sum", get_labels)] == 0.75
    assert got[("flyte_connector_request_latency_seconds_count", create_labels)] == 2
    assert got[("flyte_connector_request_latency_seconds_sum", create_labels)] == 0.75
    inputs = (("protocol", "v1"), ("task_type", "bq"))
    assert got[("flyte_connector_input_literal_bytes_count", inputs)] == 2
    assert got[("flyte_connector_input_literal_bytes_sum", inputs)] == 150
    assert got[("agenthost_requests_in_flight", (("operation", "get"), ("protocol", "v1")))] == 0


def test_each_protocol_has_series_of_its_own() -> None:
    metrics = Metrics()
    metrics.operation("get", "v1").success("bq", 0.1)
    for _ in range(2):
        metrics.operation("get", "v2").success("bq", 0.1)
    metrics.operation("create", "v2").failure("bq", "INTERNAL", 0.1)
    metrics.operation("get", "v2").in_flight = 1
    metrics.input_bytes("bq", 10, "v2")
    got = samples(metrics)
    ok = "flyte_connector_requests_success_total"
    assert got[(ok, (("operation", "get"), ("protocol", "v1"), ("task_type", "bq")))] == 1
    assert got[(ok, (("operation", "get"), ("protocol", "v2"), ("task_type", "bq")))] == 2
    failed = (
        ("error_code", "500"), ("grpc_code", "INTERNAL"),
        ("operation", "create"), ("protocol", "v2"), ("task_type", "bq"),
    )  # fmt: skip
    assert got[("flyte_connector_requests_failure_total", failed)] == 1
    assert got[("agenthost_requests_in_flight", (("operation", "get"), ("protocol", "v1")))] == 0
    assert got[("agenthost_requests_in_flight", (("operation", "get"), ("protocol", "v2")))] == 1
    inputs = (("protocol", "v2"), ("task_type", "bq"))
    assert got[("flyte_connector_input_literal_bytes_count", inputs)] == 1


def test_only_failed_calls_give_no_success_sample() -> None:
    metrics = Metrics()
    metrics.operation("delete", "v1").failure("bq", "NOT_FOUND", 0.1)
    got = samples(metrics)
    labels = (("operation", "delete"), ("protocol", "v1"), ("task_type", "bq"))
    assert ("flyte_connector_requests_success_total", labels) not in got
    assert got[("flyte_connector_request_latency_seconds_count", labels)] == 1


def test_operation_gives_one_recorder_per_name_and_protocol() -> None:
    metrics = Metrics()
    assert metrics.operation("get", "v1") is metrics.operation("get", "v1")
    assert metrics.operation("get", "v1") is not metrics.operation("do", "v1")
    assert metrics.operation("get", "v1") is not metrics.operation("get", "v2")


def test_in_flight_is_exported_per_operation() -> None:
    metrics = Metrics()
    metrics.operation("do", "v1").in_flight = 1
    metrics.operation("get", "v1").in_flight = 2
    got = samples(metrics)
    assert got[("agenthost_requests_in_flight", (("operation", "do"), ("protocol", "v1")))] == 1
    assert got[("agenthost_requests_in_flight", (("operation", "get"), ("protocol", "v1")))] == 2


def test_plugin_failures_and_process_metrics_are_exported() -> None:
    metrics = Metrics()
    metrics.plugin_failed("agent-broken")
    got = samples(metrics)
    assert got[("agenthost_plugin_load_failures", (("plugin", "agent-broken"),))] == 1
    assert any(name == "process_resident_memory_bytes" for name, _ in got)


def test_error_code_is_flytekits_http_code_and_grpc_code_the_status() -> None:
    metrics = Metrics()
    create = metrics.operation("create", "v1")
    create.failure("unknown", "NOT_FOUND", 0.1)
    create.failure("bq", "INTERNAL", 0.1)
    create.failure("bq", "RESOURCE_EXHAUSTED", 0.1)
    got = samples(metrics)
    name = "flyte_connector_requests_failure_total"
    # flytekit's server on Python 3.11: "404" for an unknown task type, "500" for the rest.
    for task_type, http, grpc_code in (
        ("unknown", "404", "NOT_FOUND"),
        ("bq", "500", "INTERNAL"),
        ("bq", "429", "RESOURCE_EXHAUSTED"),
    ):
        labels = (
            ("error_code", http), ("grpc_code", grpc_code),
            ("operation", "create"), ("protocol", "v1"), ("task_type", task_type),
        )  # fmt: skip
        assert got[(name, labels)] == 1


def test_prometheus_client_is_imported_at_the_first_scrape_not_before() -> None:
    """Recording calls and plugin failures needs no prometheus_client: the server starts
    without importing it, and the first scrape (through the recorder itself, as the listener
    serves it) exports what was recorded before."""
    script = """
import sys
from agenthost.server.metrics import Metrics
metrics = Metrics()
metrics.operation("get", "v1").success("bq", 0.1)
metrics.plugin_failed("agent-broken")
assert "prometheus_client" not in sys.modules, "imported before the first scrape"
from prometheus_client import generate_latest
print(generate_latest(metrics).decode())
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (
        'flyte_connector_requests_success_total{operation="get",protocol="v1",task_type="bq"} 1.0'
        in done.stdout
    )
    assert 'agenthost_plugin_load_failures{plugin="agent-broken"} 1.0' in done.stdout
