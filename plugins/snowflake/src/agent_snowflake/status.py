"""A Snowflake query's status -> the ``Resource`` propeller sees.

=========================================================  ================  ==================
``snowflake.connector`` ``QueryStatus``                    Flyte phase       outputs / message
=========================================================  ================  ==================
``QUEUED``, ``QUEUED_REPARING_WAREHOUSE``, ``RUNNING``,    RUNNING           the status name
``RESUMING_WAREHOUSE``, ``BLOCKED``, ``RESTARTED``,
``NO_DATA`` (not visible yet), ``DISCONNECTED``
(becomes ``FAILED_WITH_ERROR`` soon)
``SUCCESS``                                                SUCCEEDED         ``results``
``FAILED_WITH_ERROR``, ``FAILED_WITH_INCIDENT``,           FAILED            Snowflake's message
``ABORTING``, ``ABORTED``
=========================================================  ================  ==================

Every resource carries a link to the query in Snowsight.
"""

from __future__ import annotations

import re
from typing import Any

from flyteidl.core.execution_pb2 import TaskLog

from agent_snowflake.metadata import SnowflakeMetadata
from agent_snowflake.template import RESULTS_OUTPUT
from agenthost import Resource
from agenthost.literals import StructuredDataset

SUCCEEDED_STATUSES = frozenset({"SUCCESS"})
FAILED_STATUSES = frozenset({"FAILED_WITH_ERROR", "FAILED_WITH_INCIDENT", "ABORTING", "ABORTED"})
MAX_MESSAGE_CHARS = 1000
_CONTROL_CHARS = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|[\x00-\x08\x0b-\x1f\x7f]")


def query_link(meta: SnowflakeMetadata) -> TaskLog:
    """A link to the query's details in Snowsight (``org-account`` or ``locator.region``)."""
    if "." in meta.account:
        locator, region = meta.account.split(".", 1)
        base = f"https://app.snowflake.com/{region}/{locator}"
    elif "-" in meta.account:
        org, name = meta.account.split("-", 1)
        base = f"https://app.snowflake.com/{org}/{name}"
    else:
        base = f"https://app.snowflake.com/{meta.account}"
    return TaskLog(
        uri=f"{base}/#/compute/history/queries/{meta.query_id}/detail",
        name="Snowflake Query Details",
        message_format=TaskLog.UNKNOWN,
    )


def results_uri(meta: SnowflakeMetadata) -> str:
    """The structured-dataset URI of the query's result, in flytekit's form (flyte-sdk's
    decoder splits it the same way)."""
    return (
        f"snowflake://{meta.user}:{meta.account}/{meta.warehouse}/{meta.database}/"
        f"{meta.schema}/{meta.query_id}"
    )


def clean_message(text: str) -> str:
    """Snowflake's message without terminal escapes or control characters, cut to size."""
    text = _CONTROL_CHARS.sub("", text).strip()
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 3] + "..."
    return text


def resource_for_status(status: str, meta: SnowflakeMetadata) -> Resource:
    """The resource for a query whose status is ``status`` (a ``QueryStatus`` name)."""
    links = [query_link(meta)]
    if status in SUCCEEDED_STATUSES:
        outputs: dict[str, Any] | None = None
        if meta.has_output:
            outputs = {RESULTS_OUTPUT: StructuredDataset(uri=results_uri(meta))}
        return Resource.succeeded(outputs, message=status, log_links=links)
    if status in FAILED_STATUSES:
        return query_failure(status, "", meta)
    return Resource.running(status, log_links=links)


def query_failure(status: str, message: str, meta: SnowflakeMetadata) -> Resource:
    """A FAILED resource for a query Snowflake reports as failed or aborted."""
    detail = clean_message(message) or status.lower().replace("_", " ")
    return Resource.failure(
        f"Snowflake query {meta.query_id} {status}: {detail}",
        code=status,
        log_links=[query_link(meta)],
    )
