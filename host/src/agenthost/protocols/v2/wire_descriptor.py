"""The source of ``wire.SERIALIZED``: builds the descriptor file of the Flyte 2 request shapes
with ``descriptor_pb2``. Not imported at run time (``descriptor_pb2`` costs ~40 ms and ~6 MB);
``host/tests/test_v2_wire.py`` checks that ``wire.SERIALIZED`` is exactly what this builds, and
``python -m agenthost.protocols.v2.wire_descriptor`` prints the bytes to paste after a change.
"""

from __future__ import annotations

from flyteidl.admin import agent_pb2
from flyteidl.core import literals_pb2, tasks_pb2
from google.protobuf import descriptor_pb2

PACKAGE = "agenthost.wire.flyteidl2"
"""Package of the descriptors built here (distinct from flyteidl2's own names)."""

_F = descriptor_pb2.FieldDescriptorProto


def _field(
    message: descriptor_pb2.DescriptorProto,
    name: str,
    number: int,
    kind: int,
    type_name: str = "",
    repeated: bool = False,
) -> None:
    field = message.field.add(name=name, number=number, type=kind)
    field.label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
    if type_name:
        field.type_name = type_name


def _string_map(message: descriptor_pb2.DescriptorProto, name: str, number: int) -> None:
    entry_name = "".join(part.capitalize() for part in name.split("_")) + "Entry"
    entry = message.nested_type.add(name=entry_name)
    entry.options.map_entry = True
    _field(entry, "key", 1, _F.TYPE_STRING)
    _field(entry, "value", 2, _F.TYPE_STRING)
    _field(message, name, number, _F.TYPE_MESSAGE, f".{PACKAGE}.{message.name}.{entry_name}", True)


def build() -> descriptor_pb2.FileDescriptorProto:
    """The descriptor file ``wire.SERIALIZED`` holds."""
    literal = f".{literals_pb2.Literal.DESCRIPTOR.full_name}"
    template = f".{tasks_pb2.TaskTemplate.DESCRIPTOR.full_name}"
    metadata = f".{agent_pb2.TaskExecutionMetadata.DESCRIPTOR.full_name}"
    category = f".{agent_pb2.TaskCategory.DESCRIPTOR.full_name}"
    proto = descriptor_pb2.FileDescriptorProto(
        name="agenthost/wire/flyteidl2_connector.proto",
        package=PACKAGE,
        syntax="proto2",  # every singular field has presence (``HasField("inputs")``)
        dependency=[
            literals_pb2.DESCRIPTOR.name,
            tasks_pb2.DESCRIPTOR.name,
            agent_pb2.DESCRIPTOR.name,
        ],
    )
    named = proto.message_type.add(name="NamedLiteral")
    _field(named, "name", 1, _F.TYPE_STRING)
    _field(named, "value", 2, _F.TYPE_MESSAGE, literal)
    inputs = proto.message_type.add(name="Inputs")
    _field(inputs, "literals", 1, _F.TYPE_MESSAGE, f".{PACKAGE}.NamedLiteral", True)
    name_only = proto.message_type.add(name="NameOnly")
    _field(name_only, "name", 1, _F.TYPE_STRING)
    names = proto.message_type.add(name="InputNames")
    _field(names, "literals", 1, _F.TYPE_MESSAGE, f".{PACKAGE}.NameOnly", True)
    connection = proto.message_type.add(name="Connection")
    _field(connection, "task_type", 1, _F.TYPE_STRING)
    _string_map(connection, "secrets", 2)
    _string_map(connection, "configs", 3)
    create = proto.message_type.add(name="CreateTaskRequest")
    # Kept as bytes: parsed as a LiteralMap (a NamedLiteral list is a list of map entries on
    # the wire) and as InputNames (to find duplicates, which a map collapses).
    _field(create, "inputs", 1, _F.TYPE_BYTES)
    _field(create, "template", 2, _F.TYPE_MESSAGE, template)
    _field(create, "output_prefix", 3, _F.TYPE_STRING)
    _field(create, "task_execution_metadata", 4, _F.TYPE_MESSAGE, metadata)
    # Kept as bytes too: the executor sends an empty Connection on every call, which is then
    # b"" and needs no parse (``convert.connection_of`` parses a non-empty one).
    _field(create, "connection", 5, _F.TYPE_BYTES)
    get = proto.message_type.add(name="GetTaskRequest")
    _field(get, "resource_meta", 2, _F.TYPE_BYTES)
    _field(get, "task_category", 3, _F.TYPE_MESSAGE, category)
    _field(get, "output_prefix", 4, _F.TYPE_STRING)
    _field(get, "connection", 5, _F.TYPE_BYTES)
    delete = proto.message_type.add(name="DeleteTaskRequest")
    _field(delete, "resource_meta", 2, _F.TYPE_BYTES)
    _field(delete, "task_category", 3, _F.TYPE_MESSAGE, category)
    _field(delete, "connection", 5, _F.TYPE_BYTES)
    return proto


if __name__ == "__main__":
    print(build().SerializeToString(deterministic=True))
