"""Identifiers and failures through the real server (``agenthost serve`` as a subprocess):
crafted project, location and job IDs are INVALID_ARGUMENT before any request (a local HTTP
tripwire stands in for the BigQuery API and must see nothing); an unavailable BigQuery is
UNAVAILABLE with the plugin's message, a misconfigured host FAILED_PRECONDITION."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from fake_bigquery_http import Canned, error_body, fake_bigquery
from flyteidl.admin import agent_pb2

from agenthost.testing import (
    RunningServer,
    Tripwire,
    make_template,
    running_server,
    tripwire_fixture,
    unreachable_endpoint,
)

TASK_TYPE = "bigquery_query_job_task"
CATEGORY = agent_pb2.TaskCategory(name=TASK_TYPE, version=0)

BAD_PROJECTS = ["p/../../../../admin?x=", "p#frag", "p%2F..%2Fadmin", "My-Project", "p\r\nx", ""]
BAD_LOCATIONS = ["US/../../admin", "us central1", "EU?x=1", "-US"]
BAD_METAS = [
    ({"job_id": "../../../../datasets/d/tables/t/data"}, "job_id"),
    ({"job_id": "j?alt=media"}, "job_id"),
    ({"job_id": "j#x"}, "job_id"),
    ({"job_id": "j" * 1025}, "job_id"),
    ({"project": "p/../x"}, "project"),
    ({"location": "US?x=1"}, "location"),
]


wire = tripwire_fixture()
"""A local HTTP tripwire: the endpoint every request this module provokes must never reach."""


@pytest.fixture(scope="module")
def server(wire: Tripwire) -> Iterator[RunningServer]:
    """A server whose BigQuery endpoint is the tripwire: nothing may reach it."""
    env = {"BIGQUERY_EMULATOR_HOST": wire.address}
    with running_server("--allow", "agent-bigquery", env=env) as running:
        yield running


def _create(server: RunningServer, custom: dict[str, Any]) -> grpc.RpcError:
    template = make_template(TASK_TYPE, custom=custom, sql="SELECT 1")
    with pytest.raises(grpc.RpcError) as caught:
        server.async_stub.CreateTask(agent_pb2.CreateTaskRequest(template=template), timeout=30)
    return caught.value


@pytest.mark.parametrize("project", BAD_PROJECTS)
def test_crafted_project_is_invalid_argument(
    server: RunningServer, wire: Tripwire, project: str
) -> None:
    error = _create(server, {"ProjectID": project, "Location": "US"})
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "custom.ProjectID" in error.details()
    assert wire.requests == []


@pytest.mark.parametrize("location", BAD_LOCATIONS)
def test_crafted_location_is_invalid_argument(
    server: RunningServer, wire: Tripwire, location: str
) -> None:
    error = _create(server, {"ProjectID": "test-project", "Location": location})
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "custom.Location" in error.details()
    assert wire.requests == []


@pytest.mark.parametrize(("fields", "name"), BAD_METAS, ids=[n for _, n in BAD_METAS])
def test_forged_resource_meta_is_invalid_argument(
    server: RunningServer, wire: Tripwire, fields: dict[str, str], name: str
) -> None:
    meta = json.dumps({"job_id": "j", "project": "p", "location": "US", **fields}).encode()
    calls = (
        lambda: server.async_stub.GetTask(
            agent_pb2.GetTaskRequest(task_category=CATEGORY, resource_meta=meta), timeout=30
        ),
        lambda: server.async_stub.DeleteTask(
            agent_pb2.DeleteTaskRequest(task_category=CATEGORY, resource_meta=meta), timeout=30
        ),
    )
    for call in calls:
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert f"resource_meta field '{name}'" in caught.value.details()
    assert wire.requests == []


def test_domain_scoped_project_and_regional_location_pass_the_check() -> None:
    from agent_bigquery.identifiers import check_identifier

    assert check_identifier("project", "example.com:my-project", "p") == "example.com:my-project"
    assert check_identifier("location", "europe-west1", "l") == "europe-west1"
    assert check_identifier("job_id", "flyte_" + "a" * 40, "j").startswith("flyte_")


def test_bigquery_down_is_unavailable_with_the_plugins_message() -> None:
    canned = Canned(responses={"POST": (503, error_body(503, "backendError", "try later"))})
    with fake_bigquery(canned) as endpoint:
        env = {"BIGQUERY_EMULATOR_HOST": endpoint, "AGENT_BIGQUERY_RETRY_DEADLINE_SECONDS": "1"}
        with running_server("--allow", "agent-bigquery", env=env) as server:
            error = _create(server, {"ProjectID": "test-project", "Location": "US"})
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert error.details().startswith("could not submit the BigQuery job: ")
    assert "internal error" not in error.details()
    assert ("POST", "/bigquery/v2/projects/test-project/jobs?prettyPrint=false") in canned.seen


def test_unreachable_bigquery_answers_within_the_deadline() -> None:
    with unreachable_endpoint() as address:
        env = {"BIGQUERY_EMULATOR_HOST": address, "AGENT_BIGQUERY_RETRY_DEADLINE_SECONDS": "1"}
        with running_server("--allow", "agent-bigquery", env=env) as server:
            started = time.monotonic()
            error = _create(server, {"ProjectID": "test-project", "Location": "US"})
            took = time.monotonic() - started
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert "BigQuery did not answer in time" in error.details()
    assert took < 10, took


def test_invalid_credentials_secret_is_failed_precondition() -> None:
    env = {"BIGQUERY_EMULATOR_HOST": "", "_FSEC_BIGQUERY_SERVICE_ACCOUNT_JSON": "not a key"}
    with running_server("--allow", "agent-bigquery", env=env) as server:
        error = _create(server, {"ProjectID": "test-project", "Location": "US"})
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert (
        "BIGQUERY_SERVICE_ACCOUNT_JSON is not a valid service-account JSON key" in error.details()
    )
    assert "not a key" not in error.details()


def test_no_request_reached_the_tripwire(wire: Tripwire) -> None:
    assert wire.requests == []
