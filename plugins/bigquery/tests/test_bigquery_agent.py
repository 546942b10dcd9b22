"""The agent in process: registration and import cost, and the failure paths the emulator
cannot produce, against a canned HTTP server or a closed port on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
from fake_bigquery_http import Canned, error_body, fake_bigquery

from agent_bigquery.agent import BigQueryAgent
from agent_bigquery.errors import BigQueryUnavailableError
from agent_bigquery.metadata import BigQueryMetadata
from agenthost import InvalidRequestError, Phase, Resource
from agenthost.testing import make_template

TASK_TYPE = "bigquery_query_job_task"
META = BigQueryMetadata(job_id="job-1", project="proj", location="US")


@pytest.fixture
def agent() -> BigQueryAgent:
    return BigQueryAgent(request_timeout=2.0, retry_deadline=0.5)


@pytest.fixture
def canned(monkeypatch: pytest.MonkeyPatch) -> Iterator[Canned]:
    responses = Canned()
    with fake_bigquery(responses) as endpoint:
        monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", endpoint)
        yield responses


def _get(agent: BigQueryAgent) -> Resource:
    """``agent.get(META)`` on a fresh event loop, closing the loop's HTTP session after it."""

    async def poll() -> Resource:
        try:
            return await agent.get(META)
        finally:
            await agent.aclose()

    return asyncio.run(poll())


def test_the_plugin_module_registers_one_agent_without_importing_the_client_library() -> None:
    code = (
        "import sys, agent_bigquery.plugin as m\n"
        "agents = []\n"
        "m.register_agents(agents.append)\n"
        "print(len(agents), type(agents[0]).__name__, agents[0].task_type_name,\n"
        "      'google.cloud.bigquery' in sys.modules, m.AGENTHOST_PLUGIN_API)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == ["1", "BigQueryAgent", TASK_TYPE, "False", ">=1.1,<2"]


def test_importing_the_agent_module_registers_nothing() -> None:
    code = "import agenthost, agent_bigquery.agent\nprint(len(agenthost.AgentRegistry.drain()))\n"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == ["0"]


def test_the_loader_registers_the_agent_from_the_entry_point() -> None:
    from agenthost.plugins import load_plugins

    result = load_plugins(allow=["bigquery"], strict=True)
    [report] = [p for p in result.plugins if p.name == "bigquery"]
    assert report.status == "loaded"
    assert report.entry_point == "agent_bigquery.plugin"
    assert [(type(a).__name__, a.name) for a in report.agents] == [
        ("BigQueryAgent", "BigQuery Agent")
    ]


def test_preload_imports_the_client_library_in_the_background() -> None:
    code = (
        "import sys, agent_bigquery.clients as m\n"
        "thread = m.preload_client_library()\n"
        "thread.join(60)\n"
        "print(thread.name, 'google.cloud.bigquery' in sys.modules)\n"
    )
    env = {**os.environ, "AGENT_BIGQUERY_PRELOAD": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
    ).stdout.split()
    assert out == ["agent-bigquery-preload", "True"]


def test_the_entry_point_loads() -> None:
    code = (
        "from agenthost.plugins import load_plugins\n"
        "[r] = [r for r in load_plugins(allow=['bigquery']).plugins if r.name == 'bigquery']\n"
        "print(r.status, r.distribution, *[a.task_type_name for a in r.agents])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == ["loaded", "agent-bigquery", TASK_TYPE]


def test_get_keeps_running_while_bigquery_is_unreachable(
    agent: BigQueryAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", f"127.0.0.1:{closed_port}")
    resource = _get(agent)
    assert resource.phase == Phase.RUNNING
    assert "unavailable" in (resource.message or "")
    assert resource.log_links


def test_get_keeps_running_on_server_errors(agent: BigQueryAgent, canned: Canned) -> None:
    canned.responses["GET"] = (503, error_body(503, "backendError", "try later"))
    resource = _get(agent)
    assert resource.phase == Phase.RUNNING
    assert "try later" in (resource.message or "")
    assert any("/jobs/job-1" in path for _, path in canned.seen)


def test_get_keeps_running_when_rate_limited(agent: BigQueryAgent, canned: Canned) -> None:
    # BigQuery answers a too-fast poller 403 rateLimitExceeded, which google-cloud-bigquery's
    # DEFAULT_RETRY retries like a 429: the job itself may be fine.
    canned.responses["GET"] = (403, error_body(403, "rateLimitExceeded", "Exceeded rate limits"))
    resource = _get(agent)
    assert resource.phase == Phase.RUNNING
    assert "rateLimitExceeded" in (resource.message or "")


def test_get_fails_when_access_is_denied(agent: BigQueryAgent, canned: Canned) -> None:
    canned.responses["GET"] = (403, error_body(403, "accessDenied", "no access to proj"))
    resource = _get(agent)
    assert resource.phase == Phase.FAILED
    assert "accessDenied" in (resource.message or "")
    assert "http://" not in (resource.message or "")


def test_get_of_a_running_job(agent: BigQueryAgent, canned: Canned) -> None:
    job = {
        "jobReference": {"projectId": "proj", "jobId": "job-1", "location": "US"},
        "configuration": {"query": {"query": "SELECT 1"}},
        "status": {"state": "RUNNING"},
    }
    canned.responses["GET"] = (200, job)
    assert _get(agent).phase == Phase.RUNNING


def test_delete_of_a_running_job_cancels_it(agent: BigQueryAgent, canned: Canned) -> None:
    job = {"jobReference": {"projectId": "proj", "jobId": "job-1"}, "status": {"state": "DONE"}}
    canned.responses["POST"] = (200, {"job": job})
    agent.delete(META)
    assert ("POST", "/bigquery/v2/projects/proj/jobs/job-1/cancel") in [
        (m, p.split("?")[0]) for m, p in canned.seen
    ]


def test_delete_reports_transient_trouble(agent: BigQueryAgent, canned: Canned) -> None:
    canned.responses["POST"] = (503, error_body(503, "backendError", "busy"))
    with pytest.raises(BigQueryUnavailableError, match="busy"):
        agent.delete(META)


def _template(location: str | None = "US") -> object:
    custom = {"ProjectID": "proj", **({"Location": location} if location else {})}
    return make_template(TASK_TYPE, custom=custom, sql="SELECT 1")


def test_create_rejected_by_bigquery_is_an_invalid_request(
    agent: BigQueryAgent, canned: Canned
) -> None:
    canned.responses["POST"] = (400, error_body(400, "invalidQuery", "Syntax error at [1:1]"))
    with pytest.raises(InvalidRequestError, match="invalidQuery: Syntax error") as raised:
        agent.create(_template())
    assert "http" not in str(raised.value)
    assert "Job ID" not in str(raised.value)


@pytest.mark.parametrize("parameters", ["abc", [1.0], [{"name": "x"}, "y"]])
def test_create_with_malformed_query_parameters_is_an_invalid_request(
    agent: BigQueryAgent, canned: Canned, parameters: object
) -> None:
    custom = {"ProjectID": "proj", "queryParameters": parameters}
    task = make_template(TASK_TYPE, custom=custom, sql="SELECT 1")
    with pytest.raises(InvalidRequestError, match=r"custom\.queryParameters"):
        agent.create(task)
    assert canned.seen == []


def test_create_while_bigquery_is_down(agent: BigQueryAgent, canned: Canned) -> None:
    canned.responses["POST"] = (503, error_body(503, "backendError", "down"))
    with pytest.raises(BigQueryUnavailableError, match="down"):
        agent.create(_template())


def test_create_twice_finds_the_existing_job(agent: BigQueryAgent, canned: Canned) -> None:
    canned.responses["POST"] = (409, error_body(409, "duplicate", "Already Exists: Job proj:x"))
    job = {"jobReference": {"projectId": "proj", "jobId": "x", "location": "EU"}}
    canned.responses["GET"] = (200, job)
    meta = agent.create(_template(location=None))
    assert meta.project == "proj"
    assert meta.location == "EU"
    assert meta.job_id.startswith("flyte_")
    posted = [p for m, p in canned.seen if m == "POST"]
    assert len(posted) == 1
    assert json.loads(meta.encode())["job_id"] == meta.job_id


def test_get_of_a_job_that_is_not_a_query(agent: BigQueryAgent, canned: Canned) -> None:
    job = {
        "jobReference": {"projectId": "proj", "jobId": "job-1", "location": "US"},
        "configuration": {
            "load": {"destinationTable": {"projectId": "p", "datasetId": "d", "tableId": "t"}}
        },
        "status": {"state": "DONE"},
    }
    canned.responses["GET"] = (200, job)
    resource = _get(agent)
    assert resource.phase == Phase.FAILED
    assert "load job, not a query" in (resource.message or "")
