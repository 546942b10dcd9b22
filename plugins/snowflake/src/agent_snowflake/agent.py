"""The Snowflake async agent (task type ``snowflake``).

``create`` submits the task's SQL with ``execute_async`` and returns flytekit's handle;
``get`` asks Snowflake for the query's status; ``delete`` cancels it with
``SYSTEM$CANCEL_QUERY``, the query id bound as a parameter. Connections come from a pool keyed
by account, user, key fingerprint, database, schema and warehouse (``clients``).

The methods are plain ``def``: agenthost runs them in its thread pool, so the blocking
connector never runs on the event loop.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from agent_snowflake.clients import ConnectionKey, ConnectionPool
from agent_snowflake.errors import SnowflakeConfigurationError, SnowflakeUnavailableError
from agent_snowflake.failures import kind_of, message_of
from agent_snowflake.metadata import SnowflakeMetadata
from agent_snowflake.parameters import query_parameters
from agent_snowflake.settings import KeyPair, key_pair
from agent_snowflake.status import (
    FAILED_STATUSES,
    query_failure,
    query_link,
    resource_for_status,
)
from agent_snowflake.template import query_spec
from agenthost import AsyncAgentBase, InvalidRequestError, Resource, input_values

if TYPE_CHECKING:
    from flyteidl.core.literals_pb2 import LiteralMap
    from flyteidl.core.tasks_pb2 import TaskTemplate
    from snowflake.connector import SnowflakeConnection

TASK_TYPE = "snowflake"
"""Task type of flytekit's ``SnowflakeTask`` and flyte-sdk's ``Snowflake`` task."""

CANCEL_SQL = "SELECT SYSTEM$CANCEL_QUERY(?)"
"""Cancels a query; its id is bound server-side (qmark), never put into the SQL text."""

T = TypeVar("T")


class SnowflakeAgent(AsyncAgentBase):
    """Runs a task's SQL on Snowflake: submit, poll, cancel; reuses connections."""

    def __init__(self, pool: ConnectionPool | None = None) -> None:
        super().__init__(
            task_type_name=TASK_TYPE, metadata_type=SnowflakeMetadata, name="Snowflake Agent"
        )
        self.connections = pool if pool is not None else ConnectionPool()

    def create(
        self, task_template: TaskTemplate, inputs: LiteralMap | None = None, **kwargs: Any
    ) -> SnowflakeMetadata:
        """Submit the query asynchronously; returns its handle."""
        spec = query_spec(task_template)
        parameters = query_parameters(input_values(task_template, inputs))
        key = ConnectionKey(spec.account, spec.user, "", spec.database, spec.schema, spec.warehouse)

        def submit(connection: SnowflakeConnection) -> str:
            cursor = connection.cursor()
            try:
                cursor.execute_async(spec.statement, parameters)
                return str(cursor.sfqid)
            finally:
                cursor.close()

        try:
            query_id = self._call(key, submit)
        except Exception as exc:
            if kind_of(exc) != "query":
                raise
            raise InvalidRequestError(f"Snowflake rejected the query: {message_of(exc)}") from None
        return SnowflakeMetadata(
            user=spec.user,
            account=spec.account,
            database=spec.database,
            schema=spec.schema,
            warehouse=spec.warehouse,
            query_id=query_id,
            has_output=spec.has_output,
        )

    def get(self, resource_meta: SnowflakeMetadata, **kwargs: Any) -> Resource:
        """Report the query's phase, with a link to it; output ``results`` on success."""
        query_id = resource_meta.checked()

        def status_of(connection: SnowflakeConnection) -> tuple[str, str]:
            status = connection.get_query_status(query_id)
            if status.name == "DISCONNECTED" and connection.is_closed():
                # The connector's answer for a closed connection. From Snowflake itself,
                # DISCONNECTED is the query's status (its session's connection broke; it
                # becomes FAILED_WITH_ERROR soon): RUNNING until then (``status``).
                raise _closed_error()
            if status.name not in FAILED_STATUSES:
                return status.name, ""
            try:  # ask again, for Snowflake's error message
                connection.get_query_status_throw_if_error(query_id)
            except Exception as exc:
                if kind_of(exc) != "query":
                    raise
                return status.name, message_of(exc)
            return status.name, ""

        try:
            status, message = self._call(_key_of(resource_meta), status_of)
        except Exception as exc:
            if kind_of(exc) != "query":
                raise
            return Resource.failure(
                f"could not read Snowflake query {query_id}: {message_of(exc)}",
                code="SnowflakeError",
                log_links=[query_link(resource_meta)],
            )
        if message:
            return query_failure(status, message, resource_meta)
        return resource_for_status(status, resource_meta)

    def delete(self, resource_meta: SnowflakeMetadata, **kwargs: Any) -> None:
        """Cancel the query. A finished or unknown query is not an error."""
        query_id = resource_meta.checked()

        def cancel(connection: SnowflakeConnection) -> None:
            cursor = connection.cursor()
            try:
                # Server-side binding on a pyformat connection (connector >= 3.13.1, the
                # keyword write_pandas uses; absent from the connector's typed overloads).
                cast(Any, cursor).execute(CANCEL_SQL, [query_id], _force_qmark_paramstyle=True)
                cursor.fetchall()
            except Exception as exc:
                if kind_of(exc) != "query" or connection.is_still_running(
                    connection.get_query_status(query_id)
                ):
                    raise
            finally:
                cursor.close()

        try:
            self._call(_key_of(resource_meta), cancel)
        except Exception as exc:
            if kind_of(exc) != "query":
                raise
            raise InvalidRequestError(
                f"Snowflake refused to cancel query {query_id}: {message_of(exc)}"
            ) from None

    def aclose(self) -> None:
        """Close every pooled connection (called once when the host shuts down)."""
        self.connections.close()

    def _call(self, key: ConnectionKey, operation: Callable[[SnowflakeConnection], T]) -> T:
        """Run ``operation`` on the pooled connection for ``key`` with the call's key pair;
        once more on a new connection if the session was gone. Connector errors other than
        query errors become ``SnowflakeUnavailableError``/``SnowflakeConfigurationError``."""
        credentials = key_pair()
        key = dataclasses.replace(key, key_fingerprint=credentials.fingerprint)
        for attempt in (1, 2):
            connection = self._connect(key, credentials)
            try:
                return operation(connection)
            except Exception as exc:
                kind = kind_of(exc)
                if kind == "session":
                    self.connections.discard(key, connection)
                    if attempt == 1:
                        continue
                raise _host_error(exc, kind) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _connect(self, key: ConnectionKey, credentials: KeyPair) -> SnowflakeConnection:
        try:
            return self.connections.get(key, credentials)
        except Exception as exc:
            raise _host_error(exc, kind_of(exc)) from None


def _key_of(meta: SnowflakeMetadata) -> ConnectionKey:
    return ConnectionKey(meta.account, meta.user, "", meta.database, meta.schema, meta.warehouse)


def _closed_error() -> Exception:
    from snowflake.connector.errors import DatabaseError

    return DatabaseError(msg="the connection was closed", errno=250002)


def _host_error(exc: Exception, kind: str | None) -> Exception:
    """What ``_call`` raises for ``exc``: query errors and non-connector errors unchanged."""
    if kind in ("transient", "session"):
        return SnowflakeUnavailableError(f"Snowflake is unavailable: {message_of(exc)}")
    if kind == "credentials":
        return SnowflakeConfigurationError(
            f"Snowflake refused the agent's credentials: {message_of(exc)}"
        )
    if kind == "settings":
        return InvalidRequestError(
            "Snowflake refused the task's account, user, database, schema or warehouse: "
            f"{message_of(exc)}"
        )
    return exc
