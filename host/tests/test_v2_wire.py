"""The embedded v2 wire descriptor matches its source, and parses what flyteidl2 writes."""

from __future__ import annotations

import pytest
from flyteidl2.connector import connector_pb2
from flyteidl2.core import security_pb2

from agenthost.connection import Connection
from agenthost.errors import InvalidRequestError
from agenthost.protocols.v2 import wire, wire_descriptor
from agenthost.protocols.v2.convert import connection_of, inputs_map


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
    assert connection_of(parsed) == Connection(secrets={"k": "v"}, configs={"c": "d"})
    assert parsed.task_execution_metadata.namespace == "ns"
    get = connector_pb2.GetTaskRequest(resource_meta=b"{}", output_prefix="p")
    get.task_category.name = "t"
    get.connection.secrets["k"] = "v"
    parsed_get = wire.GetTaskRequest.FromString(get.SerializeToString())
    assert (parsed_get.task_category.name, parsed_get.output_prefix) == ("t", "p")
    assert connection_of(parsed_get) == Connection(secrets={"k": "v"}, configs={})


def test_empty_inputs_are_present_and_absent_inputs_are_not() -> None:
    empty = connector_pb2.CreateTaskRequest()
    empty.inputs.SetInParent()
    assert wire.CreateTaskRequest.FromString(empty.SerializeToString()).HasField("inputs")
    assert not wire.CreateTaskRequest.FromString(b"").HasField("inputs")


def test_connection_is_parsed_only_when_it_holds_something() -> None:
    empty = connector_pb2.GetTaskRequest(connection=security_pb2.Connection())
    assert connection_of(wire.GetTaskRequest.FromString(empty.SerializeToString())) is None
    assert connection_of(wire.GetTaskRequest.FromString(b"")) is None
    typed = connector_pb2.GetTaskRequest(connection=security_pb2.Connection(task_type="t"))
    assert connection_of(wire.GetTaskRequest.FromString(typed.SerializeToString())) is None
    with pytest.raises(InvalidRequestError, match="connection is not a valid Connection"):
        connection_of(wire.GetTaskRequest(connection=b"\x12\x05\x0a"))
