"""The ``openai-batch`` async agent: runs an OpenAI Batch API job, flytekit
``BatchEndpointTask`` compatible.

Template ``custom``: ``{"openai_organization": str | null, "config": {"completion_window"
(default "24h"), "endpoint" (default "/v1/chat/completions"), "metadata", ...}, "base_url":
optional}``; input ``input_file_id`` (str, an uploaded JSONL file); output ``result``, the batch
object as a dict once it completes.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format

from agent_openai.clients import client_for
from agent_openai.errors import BatchCancelError
from agent_openai.failures import describe
from agent_openai.metadata import BatchEndpointMetadata
from agent_openai.settings import ClientSettings, client_settings
from agent_openai.status import OUTPUT_NAME, RUNNING_STATES, batch_resource
from agent_openai.template import organization, parameters, split_parameters
from agenthost import (
    AsyncAgentBase,
    InvalidRequestError,
    Resource,
    custom_of,
    input_values,
)

if TYPE_CHECKING:
    from flyteidl.core.literals_pb2 import LiteralMap
    from flyteidl.core.tasks_pb2 import TaskTemplate
    from openai import AsyncOpenAI

logger = logging.getLogger(__name__)

TASK_TYPE = "openai-batch"
INPUT_NAME = "input_file_id"
DEFAULT_COMPLETION_WINDOW = "24h"
DEFAULT_ENDPOINT = "/v1/chat/completions"


def batch_request(custom: dict[str, Any], input_file_id: str) -> dict[str, Any]:
    """The ``batches.create`` parameters for a template's ``custom`` (defaults filled in on a
    copy; the template is not changed)."""
    config = parameters(custom.get("config"), where="config")
    config.setdefault("completion_window", DEFAULT_COMPLETION_WINDOW)
    config.setdefault("endpoint", DEFAULT_ENDPOINT)
    config["input_file_id"] = input_file_id
    return config


def declared_result_type(task_template: TaskTemplate) -> dict[str, Any] | None:
    """The template's declared type of ``result`` as JSON, or None if it declares none."""
    outputs = task_template.interface.outputs.variables
    if OUTPUT_NAME not in outputs:
        return None
    declared: dict[str, Any] = json_format.MessageToDict(outputs[OUTPUT_NAME].type)
    return declared


class BatchEndpointAgent(AsyncAgentBase):
    """Creates an OpenAI batch, polls it and cancels it.

    ``get`` maps validating/in_progress/finalizing to RUNNING, completed to SUCCEEDED (output
    ``result``: the batch object) and failed/expired/cancelled to FAILED with the batch's error.
    """

    def __init__(self) -> None:
        super().__init__(TASK_TYPE, BatchEndpointMetadata, name="OpenAI Batch Endpoint Agent")

    async def create(
        self, task_template: TaskTemplate, inputs: LiteralMap | None = None, **kwargs: Any
    ) -> BatchEndpointMetadata:
        """Create the batch; an API or configuration error is recorded for ``get`` to report."""
        input_file_id = input_values(task_template, inputs).get(INPUT_NAME)
        if not isinstance(input_file_id, str) or not input_file_id:
            raise InvalidRequestError(f"input {INPUT_NAME!r} (a non-empty string) is required")
        custom = custom_of(task_template)
        org: str | None = None
        base_url: str | None = None
        key = ""
        try:
            org = organization(custom.get("openai_organization"), where="openai_organization")
            settings = client_settings(org, custom)
            key = settings.api_key
            base_url = settings.base_url if custom.get("base_url") else None
            client = await client_for(settings)
            create = client.batches.create
            known, extra = split_parameters(
                create, batch_request(custom, input_file_id), where="config"
            )
            batch = await create(**known, extra_body=extra or None)
        except Exception as exc:
            failure = describe(exc, action="batch creation", api_key=key)
            if failure is None:
                raise
            if failure.unreachable:
                raise failure.unavailable() from None
            logger.info("OpenAI batch creation failed: %s", failure.message)
            return BatchEndpointMetadata(
                openai_org=org,
                batch_id="",
                base_url=base_url,
                error=failure.message,
                error_retryable=failure.retryable,
            )
        logger.info("created OpenAI batch %s", batch.id)
        return BatchEndpointMetadata(
            openai_org=org,
            batch_id=batch.id,
            base_url=base_url,
            result_type=declared_result_type(task_template),
        )

    async def get(self, resource_meta: BatchEndpointMetadata, **kwargs: Any) -> Resource:
        """Retrieve the batch and report its phase (and, once completed, ``result``)."""
        meta = resource_meta
        if meta.error is not None or not meta.batch_id:
            message = meta.error or "the batch was never created"
            return Resource.failure(message, retryable=meta.error_retryable, code="CreateFailed")
        settings: ClientSettings | None = None
        try:
            settings, client = await _client(meta)
            batch = await client.batches.retrieve(meta.batch_id)
        except Exception as exc:
            key = settings.api_key if settings else ""
            failure = describe(exc, action=f"status check of batch {meta.batch_id}", api_key=key)
            if failure is None:
                raise
            if failure.retryable:  # the batch itself is fine: poll again
                return Resource.running(f"{failure.message}; will check again")
            return failure.resource()
        return batch_resource(batch, meta, settings.api_key)

    async def delete(self, resource_meta: BatchEndpointMetadata, **kwargs: Any) -> None:
        """Cancel the batch unless it already finished or is being cancelled (idempotent)."""
        meta = resource_meta
        if not meta.batch_id:
            return
        settings: ClientSettings | None = None
        cancelling = False
        try:
            settings, client = await _client(meta)
            batch = await client.batches.retrieve(meta.batch_id)
            if batch.status in RUNNING_STATES:
                cancelling = True
                await client.batches.cancel(meta.batch_id)
                logger.info("cancelled OpenAI batch %s", meta.batch_id)
        except Exception as exc:
            key = settings.api_key if settings else ""
            failure = describe(exc, action=f"cancellation of batch {meta.batch_id}", api_key=key)
            if failure is None:
                raise
            status = getattr(exc, "status_code", None)
            if status in (400, 404, 409) and not cancelling:
                return  # the batch is unknown: nothing to cancel
            if status == 404 or (status in (400, 409) and await _no_longer_running(meta)):
                return  # gone, or the cancel was refused because the batch ended meanwhile
            if failure.unreachable:
                raise failure.unavailable() from None
            raise BatchCancelError(failure.message) from None


async def _client(meta: BatchEndpointMetadata) -> tuple[ClientSettings, AsyncOpenAI]:
    """The settings (their key is scrubbed from errors) and the shared client for the batch's
    organization and endpoint."""
    settings = client_settings(meta.openai_org, {"base_url": meta.base_url})
    return settings, await client_for(settings)


async def _no_longer_running(meta: BatchEndpointMetadata) -> bool:
    """Whether the batch, looked up again after a refused cancel, is past running (it finished,
    failed, expired or is being cancelled). A refusal while it still runs (a conflict, a bad
    request) is a failed cancel; so is a look-up that fails."""
    try:
        _, client = await _client(meta)
        batch = await client.batches.retrieve(meta.batch_id)
    except Exception:
        return False
    return str(batch.status) not in RUNNING_STATES


__all__ = ["BatchCancelError", "BatchEndpointAgent", "BatchEndpointMetadata"]
