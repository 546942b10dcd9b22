"""Conversions at the Flyte 2 edge: v2 request pieces into what the core takes, and the core's
flyteidl v1 results into bytes a v2 client parses (``wire.py`` explains why v1 classes do)."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import agent_pb2
from flyteidl.core.execution_pb2 import TaskExecution
from flyteidl.core.literals_pb2 import LiteralMap
from google.protobuf.message import DecodeError

from agenthost.connection import Connection
from agenthost.errors import InvalidRequestError
from agenthost.protocols.v2 import wire

_STATE_PHASES = {
    agent_pb2.RETRYABLE_FAILURE: TaskExecution.RETRYABLE_FAILED,
    agent_pb2.PERMANENT_FAILURE: TaskExecution.FAILED,
    agent_pb2.PENDING: TaskExecution.INITIALIZING,
    agent_pb2.RUNNING: TaskExecution.RUNNING,
    agent_pb2.SUCCEEDED: TaskExecution.SUCCEEDED,
}
"""v1 ``State`` to phase, as Flyte 1 propeller reads ``state`` when ``phase`` is UNDEFINED."""

NO_PHASE_MESSAGE = "the agent reported no phase"
"""``message`` of a resource whose phase and state were both left unset (v1 propeller treats
that as a retryable failure too)."""


def inputs_map(raw: bytes, task_type: str) -> LiteralMap:
    """The serialized v2 ``Inputs`` (a NamedLiteral list, any order) as the ``LiteralMap``
    agents see on v1: the same bytes parse as one, since a NamedLiteral is a map entry on the
    wire. A map keeps the last of duplicated names, so the names are counted too: a duplicated
    input is ``InvalidRequestError`` naming it."""
    try:
        literal_map = LiteralMap.FromString(raw)
        names = wire.InputNames.FromString(raw).literals
    except (DecodeError, ValueError, RuntimeError):
        raise InvalidRequestError("CreateTaskRequest inputs are not a valid Inputs") from None
    if len(names) != len(literal_map.literals):
        seen: set[str] = set()
        for named in names:
            if named.name in seen:
                raise InvalidRequestError(
                    f"input {named.name!r} appears more than once in the inputs of task type "
                    f"{task_type!r}"
                )
            seen.add(named.name)
    return literal_map


def connection_of(request: Any) -> Connection | None:
    """The request's ``connection`` as an ``agenthost.Connection`` (None if it carries no
    secret and no config). The request holds it as bytes: the Flyte 2 executor sends an empty
    ``Connection`` on every call, which then costs no parse. ``InvalidRequestError`` if the
    bytes are not a ``Connection`` of UTF-8 text."""
    raw = request.connection
    if not raw:
        return None
    try:
        parsed = wire.Connection.FromString(raw)
    except (DecodeError, ValueError, RuntimeError):
        raise InvalidRequestError("the request's connection is not a valid Connection") from None
    if not parsed.secrets and not parsed.configs:
        return None
    secrets, configs = _text_map("secret", parsed.secrets), _text_map("config", parsed.configs)
    return Connection(secrets=secrets, configs=configs)


def _text_map(kind: str, field: Any) -> dict[str, str]:
    """A ``Connection`` map as a dict; ``InvalidRequestError`` naming the ``kind`` of entry
    (and its name, never its value) if a name or a value is not UTF-8 text. ``wire`` is proto2,
    whose parser does not check UTF-8: such a string reads as bytes (a map's key raises
    ``UnicodeDecodeError``), which no agent, nor the scrubber, expects."""
    try:
        entries = dict(field)
    except UnicodeDecodeError:
        entries = None
    if entries is None or not all(isinstance(key, str) for key in entries):
        raise InvalidRequestError(
            f"the request's connection has a {kind} whose name is not UTF-8 text"
        )
    for key, value in entries.items():
        if not isinstance(value, str):
            raise InvalidRequestError(
                f"the request's connection has {kind} {key!r}, whose value is not UTF-8 text"
            )
    return entries


def output_prefix(request: Any) -> str:
    """The request's ``output_prefix``; ``InvalidRequestError`` if it is not UTF-8 text (the
    proto2 ``wire`` parser leaves such a string as bytes)."""
    prefix = request.output_prefix
    if not isinstance(prefix, str):
        raise InvalidRequestError(f"{request.DESCRIPTOR.name} output_prefix is not UTF-8 text")
    return prefix


def to_v2_resource(resource: agent_pb2.Resource) -> None:
    """Make a v1 ``Resource`` (in place) one whose bytes mean the same to a v2 client: a phase
    that is never UNDEFINED (from ``agent_error`` or the v1-only ``state``), and no v1-only
    field. ``outputs`` needs nothing: a ``LiteralMap`` is a NamedLiteral list on the wire."""
    if resource.HasField("agent_error"):
        error = resource.agent_error
        if resource.phase != TaskExecution.SUCCEEDED:
            recoverable = error.kind == agent_pb2.AgentError.RECOVERABLE
            resource.phase = TaskExecution.RETRYABLE_FAILED if recoverable else TaskExecution.FAILED
        if not resource.message:
            resource.message = error.code or "the agent reported an error"
        resource.ClearField("agent_error")
    if resource.phase == TaskExecution.UNDEFINED:
        state = resource.state
        resource.phase = _STATE_PHASES.get(state, TaskExecution.RETRYABLE_FAILED)
        if state == agent_pb2.RETRYABLE_FAILURE and not resource.message:
            resource.message = NO_PHASE_MESSAGE
    resource.ClearField("state")


def to_v2_logs(response: agent_pb2.GetTaskLogsResponse) -> agent_pb2.GetTaskLogsResponse:
    """A v1 logs response whose body fills both the structured ``lines`` (v2 field 2, a
    ``LogLine`` with the same fields) and the plain ``results`` (field 1, for old readers)."""
    if response.WhichOneof("part") != "body":
        return response
    body = response.body
    if body.results and not body.structured_lines:
        body.structured_lines.extend(agent_pb2.LogLine(message=line) for line in body.results)
    elif body.structured_lines and not body.results:
        body.results.extend(line.message for line in body.structured_lines)
    return response


def category_name(request: Any) -> str:
    """The task type a v2 request names (its ``task_category``), for metric labels."""
    return str(request.task_category.name) if request.HasField("task_category") else ""
