"""A BigQuery job's state -> the ``Resource`` propeller sees.

=========================================  ======================  ===========================
BigQuery job                               Flyte phase             outputs / message
=========================================  ======================  ===========================
``PENDING``                                INITIALIZING            "PENDING"
``RUNNING``                                RUNNING                 "RUNNING"
``DONE``, no ``errorResult``               SUCCEEDED               ``results`` = destination
``DONE``, ``errorResult`` reason in        RETRYABLE_FAILED        BigQuery's message
``TRANSIENT_REASONS`` (backend errors)
``DONE``, any other ``errorResult``        FAILED                  BigQuery's message
(bad SQL, ``stopped`` = cancelled, ...)
=========================================  ======================  ===========================

Errors while *asking* BigQuery about the job (see ``agent.BigQueryAgent.get``): transient ones
(HTTP 429/5xx, connection errors) keep the task RUNNING with a message, since the job itself
may be fine and the next poll retries; an unknown job or a permanent API error is FAILED.
"""

from __future__ import annotations

import re
from typing import Any, Protocol
from urllib.parse import urlencode

from flyteidl.core.execution_pb2 import TaskLog

from agent_bigquery.metadata import BigQueryMetadata
from agent_bigquery.template import RESULTS_OUTPUT
from agenthost import Phase, Resource
from agenthost.literals import StructuredDataset

TRANSIENT_REASONS = frozenset(
    {"backendError", "internalError", "jobBackendError", "jobInternalError", "rateLimitExceeded"}
)
"""``errorResult.reason`` values BigQuery documents as transient: the task may be retried."""

MAX_MESSAGE_CHARS = 1000
_CONTROL_CHARS = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|[\x00-\x08\x0b-\x1f\x7f]")


class TableReferenceLike(Protocol):
    """The parts of ``google.cloud.bigquery.TableReference`` used here."""

    project: str
    dataset_id: str
    table_id: str


class QueryJobLike(Protocol):
    """The parts of ``google.cloud.bigquery.QueryJob`` used here."""

    @property
    def state(self) -> str | None: ...

    @property
    def error_result(self) -> dict[str, Any] | None: ...

    @property
    def destination(self) -> TableReferenceLike | None: ...


def console_link(meta: BigQueryMetadata) -> TaskLog:
    """A link to the job in the BigQuery console."""
    query = urlencode(
        {
            "project": meta.project,
            "j": f"bq:{meta.location or ''}:{meta.job_id}",
            "page": "queryresults",
        },
        safe=":",
    )
    return TaskLog(
        uri=f"https://console.cloud.google.com/bigquery?{query}",
        name="BigQuery Console",
        message_format=TaskLog.UNKNOWN,
    )


def table_uri(table: TableReferenceLike) -> str:
    """``bq://project:dataset.table``, the URI flytekit uses for BigQuery structured datasets."""
    return f"bq://{table.project}:{table.dataset_id}.{table.table_id}"


def clean_message(text: str) -> str:
    """BigQuery's message without terminal escapes or control characters, cut to a sane size."""
    text = _CONTROL_CHARS.sub("", text).strip()
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 3] + "..."
    return text


def failure_message(error_result: dict[str, Any]) -> str:
    """``errorResult`` as ``"reason: message"``."""
    reason = str(error_result.get("reason") or "error")
    message = clean_message(str(error_result.get("message") or "the job failed"))
    return f"BigQuery job failed ({reason}): {message}"


def resource_from_job(job: QueryJobLike, meta: BigQueryMetadata) -> Resource:
    """Map ``job`` (fetched with ``get_job``) to a ``Resource`` with a console log link."""
    links = [console_link(meta)]
    state = (job.state or "").upper()
    if state == "PENDING":
        return Resource(phase=Phase.INITIALIZING, message="PENDING", log_links=links)
    if state != "DONE":
        return Resource.running(state or "RUNNING", log_links=links)
    error = job.error_result
    if error:
        reason = str(error.get("reason") or "")
        return Resource.failure(
            failure_message(error),
            retryable=reason in TRANSIENT_REASONS,
            code=reason or "BigQueryError",
            log_links=links,
        )
    outputs: dict[str, Any] | None = None
    if job.destination is not None:
        outputs = {RESULTS_OUTPUT: StructuredDataset(uri=table_uri(job.destination))}
    return Resource.succeeded(outputs, message="DONE", log_links=links)
