"""The BigQuery async agent (task type ``bigquery_query_job_task``), registered by
``agent_bigquery.plugin``.

``create`` and ``delete`` are plain ``def`` (agenthost runs them in its thread pool, so the
blocking client library never runs on the event loop); ``get``, the call propeller repeats,
is ``async def`` and polls with one REST request on the event loop (``jobs_api``).
"""

from __future__ import annotations

import hashlib
import uuid
from typing import TYPE_CHECKING, Any

from agent_bigquery import settings
from agent_bigquery.clients import ClientCache
from agent_bigquery.errors import BigQueryConfigurationError, BigQueryUnavailableError
from agent_bigquery.failures import (
    api_error_message,
    is_api_error,
    is_conflict,
    is_not_found,
    is_transient,
    is_unauthenticated,
)
from agent_bigquery.metadata import BigQueryMetadata
from agent_bigquery.parameters import query_parameters
from agent_bigquery.status import console_link, resource_from_job
from agent_bigquery.template import QuerySpec, query_spec
from agenthost import AsyncAgentBase, InvalidRequestError, Resource, input_values

if TYPE_CHECKING:
    from flyteidl.admin.agent_pb2 import TaskExecutionMetadata
    from flyteidl.core.literals_pb2 import LiteralMap
    from flyteidl.core.tasks_pb2 import TaskTemplate

    from agent_bigquery.jobs_api import JobsApi

TASK_TYPE = "bigquery_query_job_task"
"""Task type of flytekit's ``BigQueryTask``."""

REQUEST_TIMEOUT_S = 8.0
"""Per-request timeout of BigQuery API calls."""

JOB_LEVEL_FIELDS = frozenset({"labels", "jobTimeoutMs"})
"""Keys of ``custom`` that configure the job rather than the query."""


class BigQueryAgent(AsyncAgentBase):
    """Runs a task's SQL as a BigQuery query job: ``create`` submits it, ``get`` reports its
    phase with a console link and the destination table as output ``results``, ``delete``
    cancels it."""

    def __init__(
        self,
        clients: ClientCache | None = None,
        *,
        request_timeout: float = REQUEST_TIMEOUT_S,
        retry_deadline: float | None = None,
    ) -> None:
        super().__init__(
            task_type_name=TASK_TYPE, metadata_type=BigQueryMetadata, name="BigQuery Agent"
        )
        self.clients = clients if clients is not None else ClientCache()
        self._jobs_api: JobsApi | None = None
        self._request_timeout = request_timeout
        self.retry_deadline = retry_deadline
        """Fixed retry deadline; None: ``settings.retry_deadline()``."""

    def create(
        self,
        task_template: TaskTemplate,
        inputs: LiteralMap | None = None,
        task_execution_metadata: TaskExecutionMetadata | None = None,
        **kwargs: Any,
    ) -> BigQueryMetadata:
        """Submit the query job; returns its handle. Submitting twice for the same task
        execution (same execution, node and attempt) submits one job."""
        spec = query_spec(task_template)
        values = input_values(task_template, inputs)
        variables = task_template.interface.inputs if task_template.HasField("interface") else None
        job_config = job_config_for(spec, query_parameters(variables, values))
        job_id = job_id_for(task_execution_metadata)
        client = self.clients.get(spec.project, spec.location)
        try:
            job = client.query(
                spec.statement,
                job_config=job_config,
                job_id=job_id,
                project=spec.project,
                location=spec.location,
                job_retry=None,
                retry=self._retry(),
                timeout=self.request_timeout,
            )
        except Exception as exc:
            if not is_conflict(exc):
                raise _create_error(exc) from None
            return self._existing_job(spec, job_id)
        return BigQueryMetadata(
            job_id=str(job.job_id), project=spec.project, location=job.location or spec.location
        )

    async def get(self, resource_meta: BigQueryMetadata, **kwargs: Any) -> Resource:
        """Report the job's phase; on success, output ``results`` is its destination table.

        Polls with the REST ``jobs.get`` on the event loop (``jobs_api``), retrying transient
        errors within the retry deadline as the client library would."""
        from google.api_core.retry import AsyncRetry

        source = settings.credential_source()
        retry = AsyncRetry(predicate=is_transient, timeout=self._deadline())
        try:
            job = await retry(self.jobs_api.get_job)(
                source,
                resource_meta.project,
                resource_meta.job_id,
                resource_meta.location,
                self.request_timeout,
            )
        except Exception as exc:
            return _get_error_resource(exc, resource_meta)
        if job.job_type != "query":
            return Resource.failure(
                f"BigQuery job {resource_meta.job_id} is a {job.job_type} job, not a query",
                code="NotAQueryJob",
                log_links=[console_link(resource_meta)],
            )
        return resource_from_job(job, resource_meta)

    def delete(self, resource_meta: BigQueryMetadata, **kwargs: Any) -> None:
        """Cancel the job. A finished or unknown job is not an error."""
        client = self.clients.get(resource_meta.project, resource_meta.location)
        try:
            client.cancel_job(
                resource_meta.job_id,
                project=resource_meta.project,
                location=resource_meta.location,
                retry=self._retry(),
                timeout=self.request_timeout,
            )
        except Exception as exc:
            if is_not_found(exc):
                return
            if is_transient(exc):
                raise BigQueryUnavailableError(
                    f"could not cancel BigQuery job {resource_meta.job_id}: "
                    f"{api_error_message(exc)}"
                ) from None
            if is_unauthenticated(exc):
                raise _credentials_error(exc) from None
            if not is_api_error(exc):
                raise
            raise InvalidRequestError(
                f"BigQuery refused to cancel job {resource_meta.job_id}: {api_error_message(exc)}"
            ) from None

    @property
    def jobs_api(self) -> JobsApi:
        """How ``get`` reads jobs (REST on the event loop); imported and built on first use,
        keeping it out of the host's start-up."""
        if self._jobs_api is None:
            from agent_bigquery.jobs_api import JobsApi

            self._jobs_api = JobsApi()
        return self._jobs_api

    async def aclose(self) -> None:
        """Close the HTTP sessions ``get`` opened (the server calls this when it stops)."""
        if self._jobs_api is not None:
            await self._jobs_api.aclose()

    @property
    def request_timeout(self) -> float:
        """Per-request timeout: the configured one, at most the retry deadline."""
        return min(self._request_timeout, self._deadline())

    def _deadline(self) -> float:
        if self.retry_deadline is not None:
            return self.retry_deadline
        return settings.retry_deadline()

    def _retry(self) -> Any:
        from google.cloud.bigquery import DEFAULT_RETRY

        return DEFAULT_RETRY.with_deadline(self._deadline())

    def _existing_job(self, spec: QuerySpec, job_id: str) -> BigQueryMetadata:
        """The handle of a job this task execution already submitted (BigQuery answered 409)."""
        location = spec.location
        if location is None:
            client = self.clients.get(spec.project, None)
            try:
                job = client.get_job(
                    job_id,
                    project=spec.project,
                    retry=self._retry(),
                    timeout=self.request_timeout,
                )
            except Exception as exc:
                raise _create_error(exc) from None
            location = job.location
        return BigQueryMetadata(job_id=job_id, project=spec.project, location=location)


def job_id_for(task_execution_metadata: TaskExecutionMetadata | None) -> str:
    """A BigQuery job id for one task execution attempt.

    Derived from the task execution identifier (execution, node, task, retry attempt) when
    propeller sends one, so a repeated ``create`` finds the job it already submitted; random
    otherwise.
    """
    if task_execution_metadata is not None and task_execution_metadata.HasField(
        "task_execution_id"
    ):
        identity = task_execution_metadata.task_execution_id.SerializeToString(deterministic=True)
        return "flyte_" + hashlib.sha256(identity).hexdigest()[:40]
    return f"flyte_{uuid.uuid4().hex}"


def job_config_for(spec: QuerySpec, parameters: list[Any]) -> Any:
    """The ``QueryJobConfig`` for ``spec``: its REST-form fields plus the query parameters.

    ``labels`` and ``jobTimeoutMs`` in ``custom`` apply to the job (BigQuery keeps them beside,
    not inside, the query configuration); every other key is a query configuration field.
    """
    from google.cloud import bigquery

    query = dict(spec.job_config)
    given = query.get("queryParameters")
    if given is not None and not (
        isinstance(given, list) and all(isinstance(p, dict) for p in given)
    ):
        # The client library reads them (``to_api_repr``) before sending: AttributeError.
        raise InvalidRequestError(
            "custom.queryParameters must be a list of BigQuery query parameter objects"
        )
    resource = {"query": query}
    for key in JOB_LEVEL_FIELDS & set(query):
        resource[key] = query.pop(key)
    try:
        config = bigquery.QueryJobConfig.from_api_repr(resource)
    except (TypeError, ValueError, KeyError) as exc:
        raise InvalidRequestError(f"custom holds an invalid QueryJobConfig: {exc}") from None
    if parameters:
        config.query_parameters = parameters
    return config


def _credentials_error(exc: BaseException) -> BigQueryConfigurationError:
    return BigQueryConfigurationError(f"BigQuery refused the credentials: {api_error_message(exc)}")


def _create_error(exc: Exception) -> Exception:
    """The error ``create`` raises when BigQuery would not take the job (unexpected errors
    are raised as they are)."""
    if isinstance(exc, (BigQueryConfigurationError, InvalidRequestError)):
        return exc
    if is_unauthenticated(exc):
        return _credentials_error(exc)
    if is_transient(exc):
        return BigQueryUnavailableError(
            f"could not submit the BigQuery job: {api_error_message(exc)}"
        )
    if not is_api_error(exc):
        return exc
    return InvalidRequestError(f"BigQuery rejected the query job: {api_error_message(exc)}")


def _get_error_resource(exc: Exception, meta: BigQueryMetadata) -> Resource:
    """What ``get`` reports when BigQuery could not say how the job is doing (unexpected
    errors are raised as they are)."""
    if isinstance(exc, BigQueryConfigurationError):
        raise exc
    if is_unauthenticated(exc):
        raise _credentials_error(exc) from None
    links = [console_link(meta)]
    message = api_error_message(exc)
    if is_transient(exc):
        return Resource.running(
            f"BigQuery is unavailable, will ask again: {message}", log_links=links
        )
    if not is_api_error(exc):
        raise exc
    if is_not_found(exc):
        return Resource.failure(
            f"BigQuery job {meta.job_id} not found in project {meta.project}: {message}",
            code="NotFound",
            log_links=links,
        )
    return Resource.failure(
        f"could not read BigQuery job {meta.job_id}: {message}",
        code="BigQueryError",
        log_links=links,
    )
