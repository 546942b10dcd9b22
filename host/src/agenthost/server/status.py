"""Map exceptions to gRPC status codes and client-safe, one-line details."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import grpc

from agenthost.core.calls import AgentCallError, NotImplementedByAgentError
from agenthost.errors import (
    BackendUnavailableError,
    InvalidRequestError,
    MisconfiguredError,
    UnknownTaskTypeError,
    UnsupportedOperationError,
)
from agenthost.server.admission import ConcurrencyLimitError, ReadEvictedError, ReadTimeoutError
from agenthost.server.scrub import Scrubber

MAX_DETAILS = 1000
"""Longest status details string sent to a client."""

logger = logging.getLogger("agenthost.server")


@dataclass(frozen=True)
class Failure:
    """What a client is told about a failed call."""

    code: grpc.StatusCode
    details: str
    correlation_id: str | None = None


def _bounded(text: str) -> str:
    line = " ".join(text.split()) if "\n" in text or "\r" in text else text
    return line if len(line) <= MAX_DETAILS else line[: MAX_DETAILS - 1] + "…"


_ADMISSION_CODES: dict[type[BaseException], grpc.StatusCode] = {
    ConcurrencyLimitError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ReadTimeoutError: grpc.StatusCode.DEADLINE_EXCEEDED,
    ReadEvictedError: grpc.StatusCode.UNAVAILABLE,  # the request never ran: safe to retry
}
"""The status of each refusal by ``agenthost.server.admission`` (its details hold no input)."""


def _message(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def classify(exc: BaseException, scrub: Scrubber) -> Failure:
    """The status for ``exc``. Unexpected exceptions get a correlation id; their traceback is
    for the server log (see ``log_failure``), never for the client."""
    if isinstance(exc, UnknownTaskTypeError):
        return Failure(grpc.StatusCode.NOT_FOUND, _bounded(scrub(str(exc))))
    if isinstance(exc, InvalidRequestError):
        return Failure(grpc.StatusCode.INVALID_ARGUMENT, _bounded(scrub(str(exc))))
    if isinstance(exc, NotImplementedByAgentError):
        return Failure(grpc.StatusCode.UNIMPLEMENTED, _bounded(scrub(str(exc))))
    if isinstance(exc, UnsupportedOperationError):
        return Failure(grpc.StatusCode.FAILED_PRECONDITION, _bounded(scrub(str(exc))))
    if isinstance(exc, BackendUnavailableError):
        return Failure(grpc.StatusCode.UNAVAILABLE, _bounded(scrub(_message(exc))))
    if isinstance(exc, MisconfiguredError):
        return Failure(grpc.StatusCode.FAILED_PRECONDITION, _bounded(scrub(_message(exc))))
    admission_code = _ADMISSION_CODES.get(type(exc))
    if admission_code is not None:
        return Failure(admission_code, str(exc))
    correlation_id = uuid.uuid4().hex[:16]
    if isinstance(exc, AgentCallError):
        summary = exc.summary(scrub)
    else:
        summary = f"internal error in agenthost: {type(exc).__name__}"
    details = _bounded(f"{scrub(summary)} (correlation id: {correlation_id})")
    return Failure(grpc.StatusCode.INTERNAL, details, correlation_id)


_OPERATOR_ERRORS = (BackendUnavailableError, MisconfiguredError)
"""Errors an operator should notice (a backend down, the deployment misconfigured)."""


def log_failure(exc: BaseException, failure: Failure, task_type: str, operation: str) -> None:
    """One log line per failed call; the traceback only for unexpected (INTERNAL) errors."""
    if failure.correlation_id is None:
        logger.log(
            logging.WARNING if isinstance(exc, _OPERATOR_ERRORS) else logging.INFO,
            "call failed: operation=%s task_type=%s code=%s details=%s",
            operation,
            task_type,
            failure.code.name,
            failure.details,
            extra={"task_type": task_type, "operation": operation, "code": failure.code.name},
        )
        return
    cause = exc.__cause__ if isinstance(exc, AgentCallError) and exc.__cause__ else exc
    logger.error(
        "call failed: operation=%s task_type=%s code=%s correlation_id=%s: %s",
        operation,
        task_type,
        failure.code.name,
        failure.correlation_id,
        failure.details,
        exc_info=(type(cause), cause, cause.__traceback__),
        extra={
            "task_type": task_type,
            "operation": operation,
            "code": failure.code.name,
            "correlation_id": failure.correlation_id,
        },
    )
