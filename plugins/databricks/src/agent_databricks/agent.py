"""The Databricks async agents: ``spark`` (flytekit's ``DatabricksConnector``) and
``databricks`` (flytekit's ``DatabricksConnectorV2`` and flyte-sdk's connector).

``create`` submits a one-time run (``runs/submit``) and returns ``{databricks_instance,
run_id}``; ``get`` maps ``runs/get`` to a phase; ``delete`` cancels (``runs/cancel``),
idempotently. Every call first checks the instance against the operator's allow-list
(``settings``), so no request, and no credential, goes anywhere else.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from agent_databricks.clients import DatabricksClient
from agent_databricks.credentials import (
    Credential,
    auth_type,
    connection_token,
    host_credential,
    scrub_in_this_call,
)
from agent_databricks.errors import DatabricksConfigurationError, DatabricksUnavailableError
from agent_databricks.failures import ApiError
from agent_databricks.metadata import DatabricksMetadata
from agent_databricks.settings import Instance, resolve_instance
from agent_databricks.status import resource_from_run, run_link
from agent_databricks.template import run_spec
from agenthost import AsyncAgentBase, Connection, InvalidRequestError, Resource

if TYPE_CHECKING:
    from flyteidl.admin.agent_pb2 import TaskExecutionMetadata
    from flyteidl.core.literals_pb2 import LiteralMap
    from flyteidl.core.tasks_pb2 import TaskTemplate

SPARK_TASK_TYPE = "spark"
DATABRICKS_TASK_TYPE = "databricks"
META_INSTANCE_FIELD = "resource_meta databricks_instance"
META_TOKEN_SECRET = "resource_meta auth_token"
"""The name a flytekit handle's token takes among the current call's connection secrets."""


class DatabricksAgent(AsyncAgentBase):
    """Runs a task on Databricks as a one-time run (Jobs API 2.1)."""

    def __init__(self, task_type: str, client: DatabricksClient | None = None) -> None:
        super().__init__(
            task_type_name=task_type,
            metadata_type=DatabricksMetadata,
            name=f"Databricks Agent ({task_type})",
        )
        self.client = client if client is not None else DatabricksClient()

    async def create(
        self,
        task_template: TaskTemplate,
        inputs: LiteralMap | None = None,
        task_execution_metadata: TaskExecutionMetadata | None = None,
        connection: Connection | None = None,
        **kwargs: Any,
    ) -> DatabricksMetadata:
        """Submit the run; returns its handle (never a credential). Submitting twice for the
        same task execution attempt starts one run (``idempotency_token``)."""
        spec = run_spec(task_template)
        instance = resolve_instance(spec.instance, "custom.databricksInstance")
        credential = _credential(
            connection, None, auth_type(spec.auth_type, "custom.databricksAuthType"), spec.client_id
        )
        body = spec.body
        token = idempotency_token(task_execution_metadata)
        if token is not None and "idempotency_token" not in body:
            body["idempotency_token"] = token
        try:
            answer = await self.client.call(instance, credential, "POST", "runs/submit", body=body)
        except ApiError as exc:
            raise _call_error(exc, instance, "submit the run") from None
        run_id = answer.get("run_id")
        if isinstance(run_id, bool) or not isinstance(run_id, (int, str)) or run_id == "":
            raise DatabricksUnavailableError(
                f"Databricks instance {instance.netloc} answered runs/submit without a run_id"
            )
        return DatabricksMetadata(databricks_instance=instance.netloc, run_id=str(run_id))

    async def get(
        self, resource_meta: DatabricksMetadata, connection: Connection | None = None, **kwargs: Any
    ) -> Resource:
        """The run's phase, with its page as log link."""
        instance = resolve_instance(resource_meta.databricks_instance, META_INSTANCE_FIELD)
        credential = _meta_credential(connection, resource_meta)
        try:
            run = await self.client.call(
                instance, credential, "GET", "runs/get", params={"run_id": resource_meta.run_id}
            )
        except ApiError as exc:
            if exc.not_found:
                return Resource.failure(
                    f"Databricks run {resource_meta.run_id} not found on {instance.netloc}: "
                    f"{exc.message}",
                    code="NotFound",
                    log_links=[run_link(instance, {}, resource_meta.run_id)],
                )
            if exc.transient or exc.unauthenticated:
                raise _call_error(exc, instance, "read the run") from None
            return Resource.failure(
                f"could not read Databricks run {resource_meta.run_id}: {exc}",
                code=exc.error_code,
                log_links=[run_link(instance, {}, resource_meta.run_id)],
            )
        return resource_from_run(instance, run, resource_meta.run_id)

    async def delete(
        self, resource_meta: DatabricksMetadata, connection: Connection | None = None, **kwargs: Any
    ) -> None:
        """Cancel the run; a finished or unknown run is not an error."""
        instance = resolve_instance(resource_meta.databricks_instance, META_INSTANCE_FIELD)
        credential = _meta_credential(connection, resource_meta)
        body = {"run_id": _numeric(resource_meta.run_id)}
        try:
            await self.client.call(instance, credential, "POST", "runs/cancel", body=body)
        except ApiError as exc:
            if exc.not_found:
                return
            raise _call_error(exc, instance, "cancel the run") from None

    async def aclose(self) -> None:
        """Close the HTTP connections (the host calls this once on shutdown)."""
        await self.client.aclose()


def idempotency_token(metadata: TaskExecutionMetadata | None) -> str | None:
    """A ``runs/submit`` idempotency token for one task execution attempt (execution, node,
    task, retry attempt), or None when propeller sent no identifier."""
    if metadata is None or not metadata.HasField("task_execution_id"):
        return None
    identity = metadata.task_execution_id.SerializeToString(deterministic=True)
    return "flyte-" + hashlib.sha256(identity).hexdigest()[:48]


def _numeric(run_id: str) -> int | str:
    return int(run_id) if run_id.isdigit() else run_id


def _credential(
    connection: Connection | None, meta_token: str | None, kind: str, client_id: str | None
) -> Credential:
    token = connection_token(connection) or meta_token
    if token:
        return Credential(token=token)
    return host_credential(kind, client_id)


def _meta_credential(connection: Connection | None, meta: DatabricksMetadata) -> Credential:
    """The credential for a run's later calls: the connection's token, the token flytekit put
    in the handle (for this run's instance only), else the host's."""
    kind = meta.auth_type if meta.auth_type in ("pat", "oauth_m2m") else None
    if meta.auth_token:
        scrub_in_this_call(META_TOKEN_SECRET, meta.auth_token)
    return _credential(connection, meta.auth_token, auth_type(kind, "auth_type"), meta.client_id)


def _call_error(exc: ApiError, instance: Instance, action: str) -> Exception:
    """The error a call raises when Databricks refused to ``action``."""
    text = f"Databricks instance {instance.netloc} could not {action}: {exc}"
    if exc.transient:
        return DatabricksUnavailableError(text)
    if exc.unauthenticated:
        return DatabricksConfigurationError(
            f"Databricks instance {instance.netloc} refused the credentials: {exc}"
        )
    return InvalidRequestError(text)
