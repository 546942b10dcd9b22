"""An OpenAI batch's state -> the ``Resource`` propeller sees: validating, in_progress and
finalizing are RUNNING (with the request counts), completed is SUCCEEDED with output ``result``
(the batch object), failed, expired, cancelled and cancelling are FAILED with the batch's error.
"""

from __future__ import annotations

import logging
from typing import Any

from flyteidl.core.types_pb2 import LiteralType
from google.protobuf import json_format

from agent_openai.failures import Failure, scrub
from agent_openai.metadata import BatchEndpointMetadata
from agenthost import InvalidRequestError, Resource

logger = logging.getLogger(__name__)

OUTPUT_NAME = "result"
"""The batch agent's one output: the batch object, once it completed."""

RUNNING_STATES = frozenset({"validating", "in_progress", "finalizing"})
SUCCEEDED_STATES = frozenset({"completed"})
FAILED_STATES = frozenset({"failed", "expired", "cancelled", "cancelling"})
"""Batch states that end the task as FAILED (``cancelling`` too, as flytekit does: the batch
will produce no complete result)."""


def result_literal_type(meta: BatchEndpointMetadata) -> LiteralType:
    """The LiteralType ``result`` is encoded as: the template's, else flytekit's (msgpack
    STRUCT)."""
    if meta.result_type:
        try:
            return json_format.ParseDict(meta.result_type, LiteralType())
        except json_format.ParseError:
            raise InvalidRequestError("resource_meta has an invalid result_type") from None
    from agenthost.literals import struct_type

    return struct_type()


def batch_resource(batch: Any, meta: BatchEndpointMetadata, key: str) -> Resource:
    status = str(batch.status)
    info = _custom_info(batch)
    if status in SUCCEEDED_STATES:
        from agenthost.literals import to_literal_map

        outputs = to_literal_map(
            {OUTPUT_NAME: batch.to_dict()}, {OUTPUT_NAME: result_literal_type(meta)}
        )
        return Resource.succeeded(outputs, custom_info=info)
    if status in FAILED_STATES:
        message = _batch_error(batch) or f"batch {batch.id} ended as {status}"
        return Failure(
            scrub(message, key), retryable=False, code=f"Batch{status.title()}"
        ).resource()
    counts = info.get("request_counts")
    progress = f" ({counts['completed']}/{counts['total']} requests done)" if counts else ""
    if status not in RUNNING_STATES:
        logger.warning("OpenAI batch %s has unknown status %r", batch.id, status)
    return Resource.running(f"batch {batch.id} is {status}{progress}", custom_info=info)


def _batch_error(batch: Any) -> str | None:
    errors = getattr(batch, "errors", None)
    data = getattr(errors, "data", None) or []
    messages = [e.message for e in data if getattr(e, "message", None)]
    if not messages:
        return None
    more = f" (and {len(messages) - 1} more errors)" if len(messages) > 1 else ""
    return f"batch {batch.id} {batch.status}: {messages[0]}{more}"


def _custom_info(batch: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"batch_id": batch.id, "status": batch.status}
    counts = getattr(batch, "request_counts", None)
    if counts is not None:
        info["request_counts"] = counts.model_dump()
    for name in ("output_file_id", "error_file_id"):
        value = getattr(batch, name, None)
        if value:
            info[name] = value
    return info
