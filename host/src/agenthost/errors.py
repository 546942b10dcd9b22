"""Error types raised by agenthost and by agents, each mapped to one gRPC status by the server."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

SUMMARY_LIMIT = 300
"""Longest exception text ``summarize`` keeps."""

TRACEBACK_HEADER = "Traceback (most recent call last)"


class AgentHostError(Exception):
    """Base class of every error agenthost raises on purpose."""


class InvalidRequestError(AgentHostError):
    """The request itself is wrong (bad ``resource_meta``, inputs that do not match the
    interface, a missing template). The server answers ``INVALID_ARGUMENT`` with this message."""


class ResourceMetaError(InvalidRequestError):
    """``resource_meta`` bytes could not be decoded into the agent's metadata type."""


class UnknownTaskTypeError(AgentHostError):
    """No registered agent serves the requested task type. The server answers ``NOT_FOUND``."""


class BackendUnavailableError(AgentHostError):
    """A service the agent depends on could not be reached or did not answer in time; the same
    call may succeed later. The server answers ``UNAVAILABLE`` (retryable) with this message,
    scrubbed of secrets and machine paths."""


class MisconfiguredError(AgentHostError):
    """The host is not set up for this agent (no credentials, an invalid secret, a bad endpoint
    setting, a backend package not installed): the deployment must change, not the task. The
    server answers ``FAILED_PRECONDITION`` with this message, scrubbed of secrets and paths."""


class UnsupportedOperationError(AgentHostError):
    """The agent does not support the requested operation (e.g. ``ExecuteTaskSync`` on an async
    agent, ``GetTaskMetrics`` on an agent without ``get_metrics``). Mapped to ``UNIMPLEMENTED``
    or ``FAILED_PRECONDITION`` by the server."""


def summarize(
    error: BaseException,
    limit: int = SUMMARY_LIMIT,
    scrub: Callable[[str], str] | None = None,
) -> str:
    """``Type: first line of the message``, at most ``limit`` characters of message: how the
    host names an exception in replies, reports and resources. A message that is a formatted
    traceback (agents sometimes wrap one) is reduced to its final unindented line, so no
    traceback or source path reaches a client. ``scrub`` is applied to the whole message
    first: cut to a line or to ``limit``, a secret would keep only a part, which no scrubber
    then recognises."""
    text = str(error) if scrub is None else scrub(str(error))
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if lines and TRACEBACK_HEADER in lines[0]:
        lines = [line for line in lines[1:] if not line[:1].isspace()][-1:]
    line = lines[0].strip() if lines else ""
    if len(line) > limit:
        line = line[: limit - 1] + "…"
    return f"{type(error).__name__}: {line}" if line else type(error).__name__
