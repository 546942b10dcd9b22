"""``jobs_api``: the REST ``jobs.get`` that ``get`` polls with, against the canned HTTP server on
127.0.0.1 (which also plays Google's OAuth token endpoint for service-account keys)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest
from fake_bigquery_http import Canned, error_body, fake_bigquery
from test_bigquery_clients import service_account_json

from agent_bigquery.agent import BigQueryAgent
from agent_bigquery.errors import BigQueryConfigurationError
from agent_bigquery.jobs_api import JobResource, JobsApi, TableRef
from agent_bigquery.metadata import BigQueryMetadata
from agent_bigquery.settings import CredentialSource, _service_account
from agenthost import Phase

T = TypeVar("T")
JOB = {
    "jobReference": {"projectId": "proj", "jobId": "job-1", "location": "US"},
    "configuration": {
        "jobType": "QUERY",
        "query": {
            "query": "SELECT 1",
            "destinationTable": {"projectId": "proj", "datasetId": "_anon", "tableId": "t1"},
        },
    },
    "status": {"state": "DONE"},
}
TOKEN = {"access_token": "tok-1", "expires_in": 3600, "token_type": "Bearer"}


@pytest.fixture
def canned() -> Iterator[tuple[Canned, str]]:
    responses = Canned(responses={"GET": (200, JOB), "POST": (200, TOKEN)})
    with fake_bigquery(responses) as endpoint:
        yield responses, endpoint


def run(api: JobsApi, calls: Callable[[], Awaitable[T]]) -> T:
    """``calls()`` on a fresh event loop, closing the loop's HTTP session after it."""

    async def main() -> T:
        try:
            return await calls()
        finally:
            await api.aclose()

    return asyncio.run(main())


def key_source(
    endpoint: str, email: str = "agent@proj.iam.gserviceaccount.com"
) -> CredentialSource:
    """A service-account key whose token endpoint is the canned server, sent to ``endpoint``."""
    key = json.loads(service_account_json(email))
    key["token_uri"] = f"{endpoint}/token"
    source = _service_account(json.dumps(key), "connection secret google_application_credentials")
    return CredentialSource(
        source.kind, source.key, endpoint, source.secret_json, source.secret_name
    )


def test_a_finished_query_job_is_read_from_the_rest_resource() -> None:
    job = JobResource.from_api_repr(JOB)
    assert (job.job_type, job.state, job.error_result) == ("query", "DONE", None)
    assert job.destination == TableRef("proj", "_anon", "t1")
    load = JobResource.from_api_repr({"configuration": {"load": {}}, "status": {}})
    assert (load.job_type, load.state, load.destination) == ("load", None, None)


def test_the_emulator_is_asked_anonymously_with_the_location(
    canned: tuple[Canned, str],
) -> None:
    responses, endpoint = canned
    api = JobsApi()
    source = CredentialSource("emulator", f"emulator:{endpoint}", endpoint=endpoint)
    job = run(api, lambda: api.get_job(source, "example.com:proj", "job-1", "EU", 2.0))
    assert job.state == "DONE"
    assert responses.seen == [
        ("GET", "/bigquery/v2/projects/example.com:proj/jobs/job-1?prettyPrint=false&location=EU")
    ]
    assert responses.authorizations == [None]


def test_a_service_account_token_is_fetched_once_and_sent_as_bearer(
    canned: tuple[Canned, str],
) -> None:
    responses, endpoint = canned
    api = JobsApi()
    source = key_source(endpoint)

    async def two_polls() -> None:
        for _ in range(2):
            await api.get_job(source, "proj", "job-1", None, 2.0)

    run(api, two_polls)
    assert [method for method, _ in responses.seen] == ["POST", "GET", "GET"]
    assert responses.authorizations[1:] == ["Bearer tok-1", "Bearer tok-1"]


def test_credentials_are_kept_by_fingerprint_and_bounded(canned: tuple[Canned, str]) -> None:
    responses, endpoint = canned
    api = JobsApi(max_credentials=1)
    first, second = key_source(endpoint, "a@p.iam"), key_source(endpoint, "b@p.iam")

    async def polls() -> None:
        for source in (first, second, first):
            await api.get_job(source, "proj", "job-1", None, 2.0)

    run(api, polls)
    assert [method for method, _ in responses.seen].count("POST") == 3
    assert list(api._credentials) == [first.key]
    assert first.key.startswith("sa:") and "private_key" not in first.key


def test_refused_credentials_are_a_configuration_error(
    canned: tuple[Canned, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    responses, endpoint = canned
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", endpoint)
    responses.responses["GET"] = (401, error_body(401, "authError", "Invalid Credentials"))
    agent = BigQueryAgent(request_timeout=2.0, retry_deadline=0.5)
    meta = BigQueryMetadata(job_id="job-1", project="proj", location="US")
    with pytest.raises(BigQueryConfigurationError, match="refused the credentials"):
        run(agent.jobs_api, lambda: agent.get(meta))


def test_a_key_the_token_endpoint_refuses_is_named_a_credentials_error(
    canned: tuple[Canned, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from agenthost import Connection
    from agenthost.connection import using_connection

    responses, endpoint = canned
    monkeypatch.delenv("BIGQUERY_EMULATOR_HOST", raising=False)
    responses.responses["POST"] = (
        400,
        {"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
    )
    key = key_source(endpoint).secret_json or ""
    agent = BigQueryAgent(request_timeout=2.0, retry_deadline=0.5)
    meta = BigQueryMetadata(job_id="job-1", project="proj", location="US")

    async def poll() -> object:
        with using_connection(Connection(secrets={"google_application_credentials": key})):
            return await agent.get(meta)

    with pytest.raises(BigQueryConfigurationError) as raised:
        run(agent.jobs_api, poll)
    assert "invalid_grant: Invalid JWT Signature." in str(raised.value)
    assert "cannot reach BigQuery" not in str(raised.value)
    assert [method for method, _ in responses.seen] == ["POST"]  # nothing reached BigQuery


def test_a_transient_error_is_retried_within_the_deadline(
    canned: tuple[Canned, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    responses, endpoint = canned
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", endpoint)
    agent = BigQueryAgent(request_timeout=2.0, retry_deadline=5.0)
    meta = BigQueryMetadata(job_id="job-1", project="proj", location="US")
    responses.first["GET"] = [(503, error_body(503, "backendError", "busy"))]
    resource = run(agent.jobs_api, lambda: agent.get(meta))
    assert resource.phase == Phase.SUCCEEDED
    assert [method for method, _ in responses.seen] == ["GET", "GET"]


def test_one_session_per_event_loop_closed_by_aclose() -> None:
    api = JobsApi()

    async def one_loop() -> tuple[object, object, bool]:
        first = api._sessions.get()
        same = api._sessions.get()
        await api.aclose()
        return first, same, first.closed

    first, same, closed = asyncio.run(one_loop())
    assert first is same and closed
    other, _, _ = asyncio.run(one_loop())
    assert other is not first


def test_the_proxy_from_the_environment_is_used(
    canned: tuple[Canned, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    responses, proxy = canned
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    endpoint = "http://bigquery.example.invalid"
    api = JobsApi()
    source = CredentialSource("emulator", f"emulator:{endpoint}", endpoint=endpoint)
    job = run(api, lambda: api.get_job(source, "proj", "job-1", None, 2.0))
    assert job.state == "DONE"
    assert responses.seen == [
        ("GET", f"{endpoint}/bigquery/v2/projects/proj/jobs/job-1?prettyPrint=false")
    ]
