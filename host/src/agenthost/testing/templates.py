"""Task templates and their inputs built from Python values, as a test writes them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, tasks_pb2
from google.protobuf import json_format, struct_pb2


def make_template(
    task_type: str,
    *,
    inputs: Mapping[str, Any] | None = None,
    outputs: Mapping[str, Any] | None = None,
    custom: Mapping[str, Any] | None = None,
    sql: str | None = None,
    version: int = 0,
    name: str = "test.task",
) -> tasks_pb2.TaskTemplate:
    """A ``TaskTemplate`` for ``task_type`` with an interface built from Python types
    (``{"x": int}``), ``custom`` as a Struct and an optional SQL statement."""
    from agenthost.literals import variable_map

    template = tasks_pb2.TaskTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK,
            project="flytesnacks",
            domain="development",
            name=name,
            version="v1",
        ),
        type=task_type,
        task_type_version=version,
        interface=interface_pb2.TypedInterface(
            inputs=variable_map(inputs or {}), outputs=variable_map(outputs or {})
        ),
    )
    if custom is not None:
        template.custom.CopyFrom(json_format.ParseDict(dict(custom), struct_pb2.Struct()))
    if sql is not None:
        template.sql.CopyFrom(tasks_pb2.Sql(statement=sql, dialect=tasks_pb2.Sql.ANSI))
    return template


def make_inputs(
    template: tasks_pb2.TaskTemplate, values: Mapping[str, Any]
) -> literals_pb2.LiteralMap:
    """Inputs for ``template`` from Python values, typed by its interface."""
    from agenthost.literals import to_literal_map

    return to_literal_map(values, template.interface.inputs)
