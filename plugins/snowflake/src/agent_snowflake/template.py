"""Read a ``snowflake`` task template as flytekit 1.16's ``SnowflakeTask`` and flyte-sdk 2's
``Snowflake`` task write it.

* ``sql.statement``: the query, with ``%(name)s`` placeholders for the inputs;
* the session settings ``account``, ``user``, ``database``, ``warehouse`` (required) and
  ``schema`` (default ``PUBLIC``, as flyte-sdk defaults it): flytekit writes them into the
  template's ``config`` map (``SnowflakeTask.get_config``), flyte-sdk into ``custom``. A template
  with a ``custom`` object is read from it, any other from ``config``. flyte-sdk's ``secrets``
  (secret *names*, the values arrive in the call's connection) is ignored; its
  ``connection_kwargs`` must be empty (the host, not a task, decides how to connect) and
  ``batch`` must be false;
* ``interface.outputs``: at most one output, ``results``, a structured dataset: the query's
  result, as ``snowflake://user:account/warehouse/database/schema/query_id``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agenthost import InvalidRequestError, custom_of
from agenthost.literals import describe_type

if TYPE_CHECKING:
    from flyteidl.core.tasks_pb2 import TaskTemplate

RESULTS_OUTPUT = "results"
"""The output both SDKs declare for the query's result."""

DEFAULT_SCHEMA = "PUBLIC"
MAX_NAME_CHARS = 255

ACCOUNT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9][A-Za-z0-9_-]*){0,3}")
"""An account identifier (``org-account`` or ``locator[.region[.cloud]]``): the connector puts
it in front of ``.snowflakecomputing.com``, so nothing else may reach the host name."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class QuerySpec:
    """What a template asks for: which statement, run as whom, where."""

    statement: str
    account: str
    user: str
    database: str
    schema: str
    warehouse: str
    has_output: bool


def query_spec(task_template: TaskTemplate) -> QuerySpec:
    """Parse ``task_template``; raises ``InvalidRequestError`` naming the field that is wrong."""
    statement = task_template.sql.statement if task_template.HasField("sql") else ""
    if not statement.strip():
        raise InvalidRequestError("the task template has no SQL statement (sql.statement)")
    custom = custom_of(task_template)
    source = "custom" if custom else "config"
    settings: dict[str, Any] = custom if custom else dict(task_template.config)
    account = _name(settings, source, "account")
    if not ACCOUNT_PATTERN.fullmatch(account):
        raise InvalidRequestError(
            f"{source}.account is not a Snowflake account identifier "
            "(letters, digits, '_', '-', and '.' between parts)"
        )
    _check_unsupported(custom)
    return QuerySpec(
        statement=statement,
        account=account,
        user=_name(settings, source, "user"),
        database=_name(settings, source, "database"),
        schema=_name(settings, source, "schema", DEFAULT_SCHEMA),
        warehouse=_name(settings, source, "warehouse"),
        has_output=_has_output(task_template),
    )


def _name(settings: dict[str, Any], source: str, field: str, default: str | None = None) -> str:
    value = settings.get(field, default)
    if value is None or value == "":
        if default is not None:
            return default
        raise InvalidRequestError(f"{source}.{field} is required (the Snowflake {field})")
    if not isinstance(value, str):
        raise InvalidRequestError(f"{source}.{field} must be a string")
    if not valid_name(value):
        raise InvalidRequestError(
            f"{source}.{field} must be at most {MAX_NAME_CHARS} printable characters"
        )
    return value


def valid_name(value: str) -> bool:
    """Whether ``value`` can be a user, database, schema or warehouse name: 1 to
    ``MAX_NAME_CHARS`` characters, none of them control characters."""
    return 0 < len(value) <= MAX_NAME_CHARS and not _CONTROL.search(value)


def _check_unsupported(custom: dict[str, Any]) -> None:
    if custom.get("connection_kwargs"):
        raise InvalidRequestError(
            "custom.connection_kwargs is not supported: the agent's deployment decides how "
            "to connect to Snowflake"
        )
    if custom.get("batch"):
        raise InvalidRequestError("custom.batch (list inputs expanded into rows) is not supported")


def _has_output(task_template: TaskTemplate) -> bool:
    if not task_template.HasField("interface"):
        return False
    outputs = task_template.interface.outputs.variables
    for name, variable in outputs.items():
        if name != RESULTS_OUTPUT:
            raise InvalidRequestError(
                f"output {name!r} is not supported: a Snowflake task has at most one output, "
                f"{RESULTS_OUTPUT!r}"
            )
        if variable.type.WhichOneof("type") != "structured_dataset_type":
            raise InvalidRequestError(
                f"output {name!r} is {describe_type(variable.type)}; it must be a structured "
                "dataset (the query's result)"
            )
    return len(outputs) > 0
