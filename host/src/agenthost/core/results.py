"""What agents return, checked and made into the messages the agent API speaks.

``create`` returns a ``ResourceMeta`` (or bytes): its encoding must stay within what ``GetTask``
accepts and never hold a connection secret; nor may the result of a sync agent that
``CreateTask`` puts in its ``resource_meta``. ``get`` and ``do`` return an ``agenthost.Resource``
(or a flyteidl ``Resource``): dict outputs of ``do`` are converted with the template's output
interface when it declares outputs, untyped otherwise; ``get`` has no template, so its dict
outputs are converted untyped (agents that need exact types return a ``LiteralMap``). A result
larger than clients can receive is replaced by a FAILED resource saying so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flyteidl.admin.agent_pb2 import Resource as ResourceProto
from flyteidl.core.execution_pb2 import TaskExecution
from google.protobuf import struct_pb2
from google.protobuf.message import Message

from agenthost.connection import Connection, leaked_secret
from agenthost.core.calls import AgentCallError, agent_error
from agenthost.errors import InvalidRequestError
from agenthost.literals import to_literal_map
from agenthost.resource import Resource
from agenthost.secrets import (
    current_secret_values,
    deployment_secret_in,
    mask_values,
    secrets_known,
)

if TYPE_CHECKING:
    from flyteidl.core.tasks_pb2 import TaskTemplate

    from agenthost.core.agents import AgentEntry

CLIENT_RECEIVE_LIMIT = 4 * 1024 * 1024
"""grpc-go's default receive limit, which FlytePropeller and the Flyte 2 executor keep for
agent responses."""

PHASES = frozenset(TaskExecution.Phase.values())
"""The phase numbers flyteidl defines; an agent's flyteidl ``Resource`` must hold one."""

DEFAULT_MAX_RESOURCE_BYTES = CLIENT_RECEIVE_LIMIT - 64 * 1024
"""Largest serialized ``Resource`` (outputs inline) returned to clients; a larger one is
replaced by a FAILED resource, since the executor could not receive it (headroom for framing)."""


def meta_bytes(entry: AgentEntry, meta: Any, connection: Connection | None) -> bytes:
    """The ``resource_meta`` bytes of what ``create`` returned; ``AgentCallError`` if it is no
    ``ResourceMeta`` or holds a secret of ``connection``, ``InvalidRequestError`` if it is
    larger than ``GetTask`` accepts for this agent (a task that could never be polled)."""
    if isinstance(meta, (bytes, bytearray)):
        data = bytes(meta)
    else:
        encode = getattr(meta, "encode", None)
        if encode is None:
            raise AgentCallError(
                entry.name,
                "create",
                TypeError(f"create returned {type(meta).__name__}, not a ResourceMeta"),
            )
        try:
            data = bytes(encode())
        except BaseException as exc:  # the agent's code (its metadata type), as in ``call``
            error = agent_error(entry, "create", exc)
            if error is None:
                raise
            raise error from exc
    if connection:
        key = leaked_secret(connection, data)
        if key is not None:  # resource_meta is stored and sent back on every call
            raise AgentCallError(
                entry.name,
                "create",
                ValueError(f"resource_meta contains the value of connection secret {key!r}"),
            )
    if deployment_secret_in(data):
        raise AgentCallError(
            entry.name,
            "create",
            ValueError("resource_meta contains the value of a deployment secret"),
        )
    limit = entry.max_meta_bytes
    if limit is not None and len(data) > limit:
        raise InvalidRequestError(
            f"agent {entry.name} made a resource_meta of {len(data)} bytes for this request, "
            f"more than the {limit} bytes GetTask accepts for task type "
            f"{entry.category.name!r}; make the task's inputs or configuration smaller"
        )
    return data


def sync_result(
    entry: AgentEntry, resource: ResourceProto, connection: Connection | None
) -> ResourceProto:
    """``resource``, the result of a sync agent run through ``CreateTask`` and so bound for its
    ``resource_meta`` (itself a reply), holding no known secret value: in the fields replies
    mask (``mask_resource``) each value is replaced with ``***``; a secret anywhere else
    (outputs) is ``AgentCallError``, as in the ``resource_meta`` of an async agent."""
    if has_text(resource):
        mask_known_secrets(resource, connection)
    if not connection and not secrets_known():
        return resource
    data = resource.SerializeToString()
    key = leaked_secret(connection, data)
    if key is not None or deployment_secret_in(data):
        which = f"connection secret {key!r}" if key is not None else "a deployment secret"
        raise AgentCallError(
            entry.name,
            "do",
            ValueError(
                f"the result, which its resource_meta carries, contains the value of {which}"
            ),
        )
    return resource


def has_text(resource: ResourceProto) -> bool:
    """Whether ``resource`` has a field ``mask_resource`` looks at (a few cheap checks: most
    resources carry none of them)."""
    return bool(
        resource.message
        or resource.log_links
        or resource.HasField("custom_info")
        or resource.HasField("agent_error")
    )


def mask_resource(resource: ResourceProto, values: Sequence[str]) -> None:
    """Mask ``values`` (secret values, see ``agenthost.secrets.mask_values``) in the text of
    ``resource`` a client reads, in place: ``message``, ``log_links``, ``custom_info`` (walked
    only if it has fields) and ``agent_error``; never the task's ``outputs``."""
    if resource.message:
        resource.message = mask_values(resource.message, values)
    for link in resource.log_links:
        mask_message(link, values)
    if resource.custom_info.fields:
        mask_message(resource.custom_info, values)
    if resource.HasField("agent_error"):
        mask_message(resource.agent_error, values)


def mask_known_secrets(message: Message, connection: Connection | None = None) -> None:
    """Mask every secret value known now (the deployment's, the current call's connection's
    and ``connection``'s) in the text of ``message``, in place: a ``Resource`` as
    ``mask_resource`` does (never its outputs), any other message in every string it holds."""
    values = current_secret_values()
    if connection:
        values = [*values, *connection.secrets.values()]
    if not values:
        return
    if isinstance(message, ResourceProto):
        mask_resource(message, values)
    else:
        mask_message(message, values)


def mask_message(message: Message, values: Sequence[str]) -> None:
    """Mask ``values`` (as ``mask_values`` does) in every string ``message`` holds, in place:
    its string fields, nested messages, lists and maps, keys included (a ``Struct`` is a map of
    ``Value`` messages). Bytes fields are left alone."""
    for field, value in message.ListFields():
        if isinstance(value, str):
            masked = mask_values(value, values)
            if masked != value:
                setattr(message, field.name, masked)
        elif isinstance(value, Message):
            mask_message(value, values)
        elif field.message_type is not None and field.message_type.GetOptions().map_entry:
            _mask_map(value, values)
        elif field.type == field.TYPE_STRING:
            value[:] = [mask_values(item, values) for item in value]
        elif field.type == field.TYPE_MESSAGE:
            for item in value:
                mask_message(item, values)


def _mask_map(entries: Any, values: Sequence[str]) -> None:
    """``mask_message`` for a map field: its message or string values, then its string keys
    (an entry whose key holds a secret moves to the masked key)."""
    for key in list(entries):
        item = entries[key]
        if isinstance(item, Message):
            mask_message(item, values)
        elif isinstance(item, str):
            masked = mask_values(item, values)
            if masked != item:
                entries[key] = item = masked
        if isinstance(key, str):
            masked_key = mask_values(key, values)
            if masked_key != key:
                if isinstance(item, Message):
                    entries[masked_key].CopyFrom(item)
                else:
                    entries[masked_key] = item
                del entries[key]


def agent_resource(
    entry: AgentEntry,
    operation: str,
    result: Any,
    template: TaskTemplate | None,
    into: ResourceProto | None,
    max_bytes: int,
) -> ResourceProto:
    """What ``get`` or ``do`` returned as a flyteidl ``Resource`` (written into ``into`` if
    given); ``AgentCallError`` if it is no resource, its phase is no phase or its outputs do
    not convert. One larger than ``max_bytes``, whichever way it was made, is replaced by a
    FAILED resource saying so."""
    if isinstance(result, ResourceProto):
        if result.phase not in PHASES:  # Flyte would take it for a system error, unexplained
            raise AgentCallError(
                entry.name,
                operation,
                ValueError(
                    f"{operation} returned phase {result.phase}, which is no TaskExecution phase"
                ),
            )
        proto = deliver(result, into)
        if proto.log_links or proto.HasField("custom_info") or proto.HasField("agent_error"):
            mask_known_secrets(proto)
    elif not isinstance(result, Resource):
        raise AgentCallError(
            entry.name,
            operation,
            TypeError(f"{operation} returned {type(result).__name__}, not a Resource"),
        )
    else:
        try:
            proto = resource_to_proto(result, template, into)
        except Exception as exc:  # outputs that do not convert are the agent's fault
            raise AgentCallError(entry.name, operation, exc) from exc
        if result.log_links or result.custom_info or result.agent_error is not None:
            mask_known_secrets(proto)
    size = proto.ByteSize()
    if size > max_bytes:
        if proto is result:  # the agent's own message: leave it alone
            proto = ResourceProto()
        proto.Clear()
        return resource_to_proto(
            Resource.failure(
                f"the outputs of {entry.name} are {size} bytes, more than the executor can "
                f"receive ({CLIENT_RECEIVE_LIMIT} bytes, 4 MiB); return large results as "
                "files or structured datasets",
                code="OutputsTooLarge",
            ),
            None,
            proto,
        )
    return proto


def deliver(resource: ResourceProto, into: ResourceProto | None) -> ResourceProto:
    """``resource``, copied into ``into`` if given."""
    if into is None:
        return resource
    into.CopyFrom(resource)
    return into


def resource_to_proto(
    resource: Resource,
    template: TaskTemplate | None,
    into: ResourceProto | None = None,
) -> ResourceProto:
    """An ``agenthost.Resource`` as a flyteidl ``Resource``; dict outputs are converted with
    ``template``'s output interface if it declares outputs, untyped otherwise (no template, no
    interface, or an interface without outputs). With ``into`` (an empty message, such as a
    response's field), the resource is written there and returned."""
    proto = ResourceProto() if into is None else into
    proto.phase = resource.phase
    if resource.message:
        proto.message = resource.message
    if resource.log_links:
        proto.log_links.extend(resource.log_links)
    outputs = resource.outputs
    if outputs is not None:
        if isinstance(outputs, dict):
            variables = None
            if template is not None and template.interface.outputs.variables:
                variables = template.interface.outputs
            to_literal_map(outputs, variables, into=proto.outputs)
        else:
            proto.outputs.CopyFrom(outputs)
    if resource.custom_info:
        info = struct_pb2.Struct()
        info.update(resource.custom_info)
        proto.custom_info.CopyFrom(info)
    if resource.agent_error is not None:
        proto.agent_error.CopyFrom(resource.agent_error)
    return proto
