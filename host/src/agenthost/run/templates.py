"""Task templates and inputs from Python values: the one pair of builders behind
``agenthost run TASK_TYPE`` and ``agenthost.testing``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, tasks_pb2
from google.protobuf import json_format, struct_pb2

from agenthost.literals import to_literal_map, variable_map


def make_template(
    task_type: str,
    *,
    inputs: Mapping[str, Any] | None = None,
    outputs: Mapping[str, Any] | None = None,
    custom: Mapping[str, Any] | None = None,
    sql: str | None = None,
    version: int = 0,
    name: str = "test.task",
    project: str = "flytesnacks",
    revision: str = "v1",
    typed: bool = True,
) -> tasks_pb2.TaskTemplate:
    """A ``TaskTemplate`` for ``task_type`` (``task_type_version`` ``version``), identified as
    task ``name`` of ``project``/development at ``revision``, with ``custom`` as a Struct and an
    optional SQL statement.

    ``typed`` templates declare an interface built from Python types (``{"x": int}``; none given
    means none declared, so an agent's outputs are then refused). ``typed=False`` declares no
    interface at all: inputs and outputs are then encoded untyped, each literal's type following
    its Python value, as ``agenthost run TASK_TYPE`` does.
    """
    if not typed and (inputs or outputs):
        raise ValueError("an untyped template declares no inputs or outputs")
    template = tasks_pb2.TaskTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK,
            project=project,
            domain="development",
            name=name,
            version=revision,
        ),
        type=task_type,
        task_type_version=version,
    )
    if typed:
        template.interface.CopyFrom(
            interface_pb2.TypedInterface(
                inputs=variable_map(inputs or {}), outputs=variable_map(outputs or {})
            )
        )
    if custom is not None:
        template.custom.CopyFrom(json_format.ParseDict(dict(custom), struct_pb2.Struct()))
    if sql is not None:
        template.sql.CopyFrom(tasks_pb2.Sql(statement=sql, dialect=tasks_pb2.Sql.ANSI))
    return template


def make_inputs(
    template: tasks_pb2.TaskTemplate,
    values: Mapping[str, Any] | literals_pb2.LiteralMap | None = None,
) -> literals_pb2.LiteralMap:
    """Inputs for ``template``: a ``LiteralMap`` as is, or Python values encoded with the
    template's input interface (untyped if it declares none); no values, no inputs."""
    if values is None:
        return literals_pb2.LiteralMap()
    if isinstance(values, literals_pb2.LiteralMap):
        return values
    variables = template.interface.inputs if template.HasField("interface") else None
    return to_literal_map(values, variables, kind="input")
