"""The embedded v2 wire descriptor matches its source, and parses what flyteidl2 writes."""

from __future__ import annotations

from flyteidl2.connector import connector_pb2
from flyteidl2.core import security_pb2

from agenthost.protocols.v2 import wire, wire_descriptor
from agenthost.protocols.v2.convert import inputs_map


def test_serialized_descriptor_is_what_the_builder_builds() -> None:
    assert wire.SERIALIZED == wire_descriptor.build().SerializeToString(deterministic=True)


def test_flyteidl2_requests_parse_with_the_wire_classes() -> None:
    request = connector_pb2.CreateTaskRequest(
        output_prefix="s3://out",
        connection=security_pb2.Connection(secrets={"k": "v"}, configs={"c": "d"}),
    )
    request.template.type = "t"
    request.template.task_type_version = 3
    request.inputs.literals.add(name="a").value.scalar.primitive.integer = 1
    request.task_execution_metadata.namespace = "ns"
    parsed = wire.CreateTaskRequest.FromString(request.SerializeToString())
    assert parsed.template.type == "t" and parsed.template.task_type_version == 3
    assert parsed.HasField("inputs")
    literal_map = inputs_map(parsed.inputs, "t")
    assert {k: v.scalar.primitive.integer for k, v in literal_map.literals.items()} == {"a": 1}
    assert dict(parsed.connection.secrets) == {"k": "v"} and dict(parsed.connection.configs) == {
        "c": "d"
    }
    assert parsed.task_execution_metadata.namespace == "ns"
    get = connector_pb2.GetTaskRequest(resource_meta=b"{}", output_prefix="p")
    get.task_category.name = "t"
    get.connection.secrets["k"] = "v"
    parsed_get = wire.GetTaskRequest.FromString(get.SerializeToString())
    assert (parsed_get.task_category.name, parsed_get.output_prefix) == ("t", "p")
    assert dict(parsed_get.connection.secrets) == {"k": "v"}


def test_empty_inputs_are_present_and_absent_inputs_are_not() -> None:
    empty = connector_pb2.CreateTaskRequest()
    empty.inputs.SetInParent()
    assert wire.CreateTaskRequest.FromString(empty.SerializeToString()).HasField("inputs")
    assert not wire.CreateTaskRequest.FromString(b"").HasField("inputs")
