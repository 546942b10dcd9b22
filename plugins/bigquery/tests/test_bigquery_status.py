"""Job state -> Resource mapping, including the states the emulator never produces (it always
answers DONE): pending, running, cancelled and backend failures. The fake job object here is
the one stand-in these tests use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flyteidl.admin.agent_pb2 import AgentError

from agent_bigquery.metadata import BigQueryMetadata
from agent_bigquery.status import MAX_MESSAGE_CHARS, console_link, resource_from_job
from agenthost import Phase
from agenthost.literals import StructuredDataset

META = BigQueryMetadata(job_id="job-1", project="proj", location="EU")


@dataclass
class Table:
    project: str = "proj"
    dataset_id: str = "ds"
    table_id: str = "tbl"


@dataclass
class FakeJob:
    state: str | None
    error_result: dict[str, Any] | None = None
    destination: Table | None = None


@pytest.mark.parametrize(
    ("state", "phase"),
    [("PENDING", Phase.INITIALIZING), ("RUNNING", Phase.RUNNING), (None, Phase.RUNNING)],
)
def test_unfinished_jobs(state: str | None, phase: int) -> None:
    resource = resource_from_job(FakeJob(state), META)
    assert resource.phase == phase
    assert resource.outputs is None
    assert resource.message


def test_done_job_outputs_its_destination_table() -> None:
    resource = resource_from_job(FakeJob("DONE", destination=Table()), META)
    assert resource.phase == Phase.SUCCEEDED
    assert resource.outputs == {"results": StructuredDataset(uri="bq://proj:ds.tbl")}


def test_done_job_without_destination_has_no_outputs() -> None:
    resource = resource_from_job(FakeJob("DONE"), META)
    assert resource.phase == Phase.SUCCEEDED
    assert not resource.outputs


def test_cancelled_job_is_failed_not_retried() -> None:
    error = {"reason": "stopped", "message": "Job execution was cancelled: User requested"}
    resource = resource_from_job(FakeJob("DONE", error_result=error), META)
    assert resource.phase == Phase.FAILED
    assert "cancelled" in (resource.message or "")
    assert resource.agent_error is not None
    assert resource.agent_error.kind == AgentError.NON_RECOVERABLE
    assert resource.agent_error.code == "stopped"


@pytest.mark.parametrize("reason", ["backendError", "internalError", "rateLimitExceeded"])
def test_backend_failures_are_retryable(reason: str) -> None:
    error = {"reason": reason, "message": "try again later"}
    resource = resource_from_job(FakeJob("DONE", error_result=error), META)
    assert resource.phase == Phase.RETRYABLE_FAILED
    assert resource.agent_error is not None
    assert resource.agent_error.kind == AgentError.RECOVERABLE
    assert "try again later" in (resource.message or "")


def test_failure_message_is_bigquerys_without_terminal_escapes() -> None:
    error = {"reason": "invalidQuery", "message": "Syntax error at \x1b[4m+\x1b[0m\x07 here"}
    resource = resource_from_job(FakeJob("DONE", error_result=error), META)
    assert resource.phase == Phase.FAILED
    assert resource.message == "BigQuery job failed (invalidQuery): Syntax error at + here"


def test_long_messages_are_cut() -> None:
    error = {"reason": "invalidQuery", "message": "x" * 10_000}
    resource = resource_from_job(FakeJob("DONE", error_result=error), META)
    assert len(resource.message or "") < MAX_MESSAGE_CHARS + 50
    assert (resource.message or "").endswith("...")


def test_every_resource_links_to_the_console() -> None:
    for job in (FakeJob("RUNNING"), FakeJob("DONE"), FakeJob("DONE", {"reason": "x"})):
        [link] = resource_from_job(job, META).log_links or []
        assert link.name == "BigQuery Console"
        assert link.uri == (
            "https://console.cloud.google.com/bigquery?project=proj&j=bq:EU:job-1&page=queryresults"
        )


def test_console_link_of_a_handle_without_location() -> None:
    link = console_link(BigQueryMetadata(job_id="j 2", project="p", location=None))
    assert "j=bq::j+2" in link.uri
