"""The Flyte 2 (``flyteidl2.connector``) request shapes, described with flyteidl v1's classes.

flyteidl2's connector messages are wire-compatible with flyteidl v1's agent messages except
for a few fields (research: ``flyteidl2_connectors.md`` §1.3-1.4): requests gain
``connection`` (field 5), ``CreateTaskRequest.inputs`` is a ``task.Inputs`` (a list of
``NamedLiteral``), ``Resource`` loses ``state`` (1) and ``agent_error`` (7), and the log body's
field 2 is a ``LogLine`` with the same fields as v1's plus ``short_pod_name``. So instead of
depending on the ``flyteidl2`` package (see docs/architecture.md for the choice and its cost),
this module registers a small descriptor file holding only the messages whose shape differs,
with v1's ``TaskTemplate``, ``Literal``, ``TaskExecutionMetadata`` and ``TaskCategory`` inside.
``SERIALIZED`` is what ``wire_descriptor.build()`` produces (a test checks it), embedded so
that the server does not import ``descriptor_pb2``. A
template's v2-only fields (``TaskTemplate`` 19-20, ``TaskMetadata`` 17-24) stay unknown fields:
ignored, never an error. Responses are v1 messages whose bytes v2 parses identically once the
adapter has cleared the v1-only fields (see ``convert.py``).
"""

from __future__ import annotations

from typing import Any

from flyteidl.admin import agent_pb2  # noqa: F401  the dependencies must be registered first
from flyteidl.core import literals_pb2, tasks_pb2  # noqa: F401
from google.protobuf import descriptor_pool, message_factory

SERIALIZED = (
    b"\n(agenthost/wire/flyteidl2_connector.proto\x12\x18agenthost.wire.flyteidl2\x1a\x1cflyteidl"
    b'/core/literals.proto\x1a\x19flyteidl/core/tasks.proto\x1a\x1aflyteidl/admin/agent.proto"C\n'
    b"\x0cNamedLiteral\x12\x0c\n\x04name\x18\x01 \x01(\t\x12%\n\x05value\x18\x02 \x01(\x0b2\x16.f"
    b'lyteidl.core.Literal"B\n\x06Inputs\x128\n\x08literals\x18\x01 \x03(\x0b2&.agenthost.wire.fl'
    b'yteidl2.NamedLiteral"\x18\n\x08NameOnly\x12\x0c\n\x04name\x18\x01 \x01(\t"B\n\nInputNames'
    b'\x124\n\x08literals\x18\x01 \x03(\x0b2".agenthost.wire.flyteidl2.NameOnly"\x87\x02\n\nConne'
    b"ction\x12\x11\n\ttask_type\x18\x01 \x01(\t\x12B\n\x07secrets\x18\x02 \x03(\x0b21.agenthost."
    b"wire.flyteidl2.Connection.SecretsEntry\x12B\n\x07configs\x18\x03 \x03(\x0b21.agenthost.wire"
    b".flyteidl2.Connection.ConfigsEntry\x1a.\n\x0cSecretsEntry\x12\x0b\n\x03key\x18\x01 \x01(\t"
    b"\x12\r\n\x05value\x18\x02 \x01(\t:\x028\x01\x1a.\n\x0cConfigsEntry\x12\x0b\n\x03key\x18\x01"
    b' \x01(\t\x12\r\n\x05value\x18\x02 \x01(\t:\x028\x01"\xc5\x01\n\x11CreateTaskRequest\x12\x0e'
    b"\n\x06inputs\x18\x01 \x01(\x0c\x12-\n\x08template\x18\x02 \x01(\x0b2\x1b.flyteidl.core.Task"
    b"Template\x12\x15\n\routput_prefix\x18\x03 \x01(\t\x12F\n\x17task_execution_metadata\x18\x04"
    b' \x01(\x0b2%.flyteidl.admin.TaskExecutionMetadata\x12\x12\n\nconnection\x18\x05 \x01(\x0c"'
    b"\x87\x01\n\x0eGetTaskRequest\x12\x15\n\rresource_meta\x18\x02 \x01(\x0c\x123\n\rtask_catego"
    b"ry\x18\x03 \x01(\x0b2\x1c.flyteidl.admin.TaskCategory\x12\x15\n\routput_prefix\x18\x04 \x01"
    b'(\t\x12\x12\n\nconnection\x18\x05 \x01(\x0c"s\n\x11DeleteTaskRequest\x12\x15\n\rresource_me'
    b"ta\x18\x02 \x01(\x0c\x123\n\rtask_category\x18\x03 \x01(\x0b2\x1c.flyteidl.admin.TaskCatego"
    b"ry\x12\x12\n\nconnection\x18\x05 \x01(\x0cb\x06proto2"
)
"""The serialized ``FileDescriptorProto`` of ``agenthost/wire/flyteidl2_connector.proto``."""


def _classes() -> dict[str, Any]:
    pool = descriptor_pool.Default()
    name = "agenthost/wire/flyteidl2_connector.proto"
    try:
        file = pool.FindFileByName(name)
    except KeyError:
        pool.AddSerializedFile(SERIALIZED)
        file = pool.FindFileByName(name)
    return {
        message: message_factory.GetMessageClass(descriptor)
        for message, descriptor in file.message_types_by_name.items()
    }


_CLASSES = _classes()

NamedLiteral: Any = _CLASSES["NamedLiteral"]
"""``flyteidl2.task.NamedLiteral``: ``name`` (1), ``value`` (2, a ``core.Literal``)."""
Inputs: Any = _CLASSES["Inputs"]
"""``flyteidl2.task.Inputs`` without ``context`` (2), which the executor never sets."""
InputNames: Any = _CLASSES["InputNames"]
"""An ``Inputs`` read for its names only (the values are skipped)."""
Connection: Any = _CLASSES["Connection"]
"""``flyteidl2.core.Connection``: ``task_type``, ``secrets`` and ``configs`` maps. The requests
keep their ``connection`` as bytes (empty on most calls), parsed with this class only when
non-empty (``convert.connection_of``)."""
CreateTaskRequest: Any = _CLASSES["CreateTaskRequest"]
"""``flyteidl2.connector.CreateTaskRequest``."""
GetTaskRequest: Any = _CLASSES["GetTaskRequest"]
"""``flyteidl2.connector.GetTaskRequest``."""
DeleteTaskRequest: Any = _CLASSES["DeleteTaskRequest"]
"""``flyteidl2.connector.DeleteTaskRequest``."""
