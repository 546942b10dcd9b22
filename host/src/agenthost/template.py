"""Small helpers for reading a flyteidl ``TaskTemplate``."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format

from agenthost.errors import InvalidRequestError

if TYPE_CHECKING:
    from flyteidl.core.literals_pb2 import LiteralMap
    from flyteidl.core.tasks_pb2 import TaskTemplate
    from google.protobuf.struct_pb2 import Struct, Value


def custom_of(task_template: TaskTemplate) -> dict[str, Any]:
    """The template's ``custom`` Struct as a plain dict (numbers come back as floats, as
    protobuf ``Struct`` stores them).

    Raises ``InvalidRequestError`` naming the field if a number is NaN or infinite (JSON has
    no such numbers)."""
    if not task_template.HasField("custom"):
        return {}
    try:
        custom: dict[str, Any] = json_format.MessageToDict(task_template.custom)
    except ValueError:
        check_custom(task_template)
        raise
    return custom


def check_custom(task_template: TaskTemplate) -> None:
    """``InvalidRequestError`` naming the first field of the template's ``custom`` whose
    number is NaN or infinite."""
    if task_template.HasField("custom"):
        _check_struct(task_template.custom, "")


def _check_struct(struct: Struct, path: str) -> None:
    for key, value in struct.fields.items():
        _check_value(value, f"{path}.{key}" if path else key)


def _check_value(value: Value, path: str) -> None:
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        if not math.isfinite(number):
            raise InvalidRequestError(
                f"custom field {path!r} is {number}; numbers in a task template's custom must "
                "be finite"
            )
    elif kind == "struct_value":
        _check_struct(value.struct_value, path)
    elif kind == "list_value":
        for index, item in enumerate(value.list_value.values):
            _check_value(item, f"{path}[{index}]")


def input_values(task_template: TaskTemplate, inputs: LiteralMap | None) -> dict[str, Any]:
    """The task's inputs as Python values, typed by the template's interface where declared.

    Raises ``LiteralConversionError`` (an ``InvalidRequestError``) naming the input on mismatch.
    """
    from agenthost.literals import literal_map_to_python

    if inputs is None:
        return {}
    variables = task_template.interface.inputs if task_template.HasField("interface") else None
    return literal_map_to_python(inputs, variables)
