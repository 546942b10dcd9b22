"""Read a ``bigquery_query_job_task`` template as flytekit's ``BigQueryTask`` writes it.

* ``sql.statement``: the query;
* ``custom``: ``ProjectID`` (required), ``Location`` (optional), ``Domain`` (ignored),
  ``secrets`` and ``configs`` (flyte-sdk 2: names the Flyte 2 executor resolves into the call's
  ``connection``; ignored here) and any other keys, which are ``QueryJobConfig`` fields in
  BigQuery's REST form (``useQueryCache``, ``maximumBytesBilled`` as a string, ``labels``,
  ``destinationTable``...);
* ``interface.inputs``: become named query parameters;
* ``interface.outputs``: at most one output, ``results``, a structured dataset: the job's
  destination table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent_bigquery.identifiers import check_identifier
from agenthost import InvalidRequestError, custom_of
from agenthost.literals import describe_type

if TYPE_CHECKING:
    from flyteidl.core.tasks_pb2 import TaskTemplate

RESERVED_CUSTOM_KEYS = frozenset({"ProjectID", "Location", "Domain", "secrets", "configs"})
RESULTS_OUTPUT = "results"
"""The output flytekit's ``BigQueryTask`` declares for the query's destination table."""


@dataclass(frozen=True)
class QuerySpec:
    """What a template asks for: where to run which statement with which job configuration."""

    statement: str
    project: str
    location: str | None
    domain: str
    """The Flyte domain (flytekit records it; it is not sent to BigQuery)."""
    job_config: dict[str, Any] = field(default_factory=dict)
    """``QueryJobConfig`` fields in REST (camelCase) form, as found in ``custom``."""


def query_spec(task_template: TaskTemplate) -> QuerySpec:
    """Parse ``task_template``; raises ``InvalidRequestError`` naming what is missing or wrong
    (``ProjectID`` and ``Location`` are checked against BigQuery's character sets)."""
    statement = task_template.sql.statement if task_template.HasField("sql") else ""
    if not statement.strip():
        raise InvalidRequestError("the task template has no SQL statement (sql.statement)")
    custom = custom_of(task_template)
    project = custom.get("ProjectID")
    if not isinstance(project, str) or not project:
        raise InvalidRequestError("custom.ProjectID (the BigQuery project) is required")
    check_identifier("project", project, "custom.ProjectID")
    location = custom.get("Location")
    if location is not None and not isinstance(location, str):
        raise InvalidRequestError("custom.Location must be a string")
    if location:
        check_identifier("location", location, "custom.Location")
    domain = custom.get("Domain")
    job_config = {k: v for k, v in custom.items() if k not in RESERVED_CUSTOM_KEYS}
    _check_outputs(task_template)
    return QuerySpec(
        statement=statement,
        project=project,
        location=location or None,
        domain=domain if isinstance(domain, str) else "",
        job_config=job_config,
    )


def _check_outputs(task_template: TaskTemplate) -> None:
    if not task_template.HasField("interface"):
        return
    for name, variable in task_template.interface.outputs.variables.items():
        if name != RESULTS_OUTPUT:
            raise InvalidRequestError(
                f"output {name!r} is not supported: a BigQuery query task has at most one "
                f"output, {RESULTS_OUTPUT!r}"
            )
        if variable.type.WhichOneof("type") != "structured_dataset_type":
            raise InvalidRequestError(
                f"output {name!r} is {describe_type(variable.type)}; it must be a structured "
                "dataset (the query's destination table)"
            )
