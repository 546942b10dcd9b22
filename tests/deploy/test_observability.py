"""The Grafana dashboard and the alert rules the chart ships: every metric they reference is
one a running ``agenthost serve`` exports (scraped after real calls), and both objects are off by
default."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from deploy_kit import CHART, agent_module
from flyteidl.admin import agent_pb2

from agenthost.testing import free_port, make_inputs, make_template, serve_command, serving

METRIC = re.compile(r"\b((?:flyte_connector|agenthost|process)_[a-z0-9_]+)\b")
"""Metric names of the server (``process_*`` are the standard process metrics)."""
FROM_PROMETHEUS = {"up"}
"""Series Prometheus makes itself for every target."""

AGENT_MODULE = "observed_agent"
AGENT_SOURCE = """
from dataclasses import dataclass

from agenthost import AgentRegistry, AsyncAgentBase, Resource, ResourceMeta, input_values

AGENTHOST_PLUGIN_API = ">=1.0,<2"


@dataclass
class Job(ResourceMeta):
    x: int


class Observed(AsyncAgentBase):
    def __init__(self):
        super().__init__("observed", Job, name="Observed")

    async def create(self, task_template, inputs=None, **kwargs):
        x = int(input_values(task_template, inputs)["x"])
        if x < 0:
            raise ValueError("x must not be negative")
        return Job(x)

    async def get(self, resource_meta):
        return Resource.succeeded({})

    async def delete(self, resource_meta):
        pass


AgentRegistry.register(Observed())
"""


def _render(helm: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [
            str(helm), "template", "rel", str(CHART), "-n", "flyte",
            "--set", "metrics.prometheusRule.enabled=true",
            "--set", "metrics.grafanaDashboard.enabled=true",
        ],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _exprs(docs: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Every PromQL expression of the rules and of the dashboard, by where it comes from."""
    found: dict[str, list[str]] = {"rules": [], "dashboard": []}
    for doc in docs:
        if doc["kind"] == "PrometheusRule":
            found["rules"] += [r["expr"] for g in doc["spec"]["groups"] for r in g["rules"]]
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].endswith("-dashboard"):
            dashboard = json.loads(doc["data"]["agenthost.json"])
            found["dashboard"] += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
            found["dashboard"] += [
                v["query"]["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"
            ]
    return found


def _exported(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            names.add(name)
            suffixes = {"counter": ["_total", "_created"], "summary": ["_sum", "_count"]}
            names.update(name + s for s in suffixes.get(kind, []))
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


@pytest.fixture(scope="module", params=[1, 2], ids=["workers-1", "workers-2"])
def scrape(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> str:
    """/metrics of a real server (one process, or ``--workers 2``, whose supervisor merges the
    workers' metrics) with a plugin that failed to load, after a successful and a failing
    call."""
    env = agent_module(tmp_path_factory.mktemp("observed"), AGENT_MODULE, AGENT_SOURCE)
    metrics_port = free_port()
    # A module that cannot be imported: the plugin-failure gauge gets a sample in both modes.
    modules = f"{AGENT_MODULE},no_such_module_for_the_gauge"
    command = serve_command("--modules", modules, "--workers", str(request.param))
    command[command.index("--metrics-port") + 1] = str(metrics_port)
    with serving(command, env) as server:
        stub = server.async_stub
        template = make_template("observed", inputs={"x": int})

        def create(x: int) -> None:
            inputs = make_inputs(template, {"x": x})
            stub.CreateTask(
                agent_pb2.CreateTaskRequest(template=template, inputs=inputs), timeout=10
            )

        create(1)
        with pytest.raises(grpc.RpcError) as failed:
            create(-1)
        assert failed.value.code() == grpc.StatusCode.INTERNAL
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            return str(response.read().decode())


def test_every_metric_the_dashboard_and_rules_use_is_exported(helm: Path, scrape: str) -> None:
    exported = _exported(scrape)
    exprs = _exprs(_render(helm))
    assert len(exprs["rules"]) >= 4 and len(exprs["dashboard"]) >= 10
    for source, items in exprs.items():
        for expr in items:
            used = set(METRIC.findall(expr))
            assert used or set(re.findall(r"\w+", expr)) & FROM_PROMETHEUS, (source, expr)
            missing = used - exported
            assert not missing, f"{source} uses {missing}, not exported: {expr}"
    # The failing call is counted with flytekit's HTTP-style code and the gRPC status.
    failure = next(
        line for line in scrape.splitlines()
        if line.startswith("flyte_connector_requests_failure_total{")
    )  # fmt: skip
    assert 'error_code="500"' in failure and 'grpc_code="INTERNAL"' in failure


def test_dashboard_and_rules_are_off_by_default(helm: Path) -> None:
    result = subprocess.run(
        [str(helm), "template", "rel", str(CHART)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    kinds = {doc["kind"] for doc in yaml.safe_load_all(result.stdout) if doc}
    assert "PrometheusRule" not in kinds and "ConfigMap" not in kinds


def test_the_shipped_dashboard_is_the_charts_file() -> None:
    dashboard = json.loads((CHART / "dashboards" / "agenthost.json").read_text())
    assert dashboard["uid"] == "agenthost"
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
