"""Small helpers for reading a flyteidl ``TaskTemplate``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from google.protobuf import json_format

if TYPE_CHECKING:
    from flyteidl.core.literals_pb2 import LiteralMap
    from flyteidl.core.tasks_pb2 import TaskTemplate


def custom_of(task_template: TaskTemplate) -> dict[str, Any]:
    """The template's ``custom`` Struct as a plain dict (numbers come back as floats, as
    protobuf ``Struct`` stores them)."""
    if not task_template.HasField("custom"):
        return {}
    custom: dict[str, Any] = json_format.MessageToDict(task_template.custom)
    return custom


def input_values(task_template: TaskTemplate, inputs: LiteralMap | None) -> dict[str, Any]:
    """The task's inputs as Python values, typed by the template's interface where declared.

    Raises ``LiteralConversionError`` (an ``InvalidRequestError``) naming the input on mismatch.
    """
    from agenthost.literals import literal_map_to_python

    if inputs is None:
        return {}
    variables = task_template.interface.inputs if task_template.HasField("interface") else None
    return literal_map_to_python(inputs, variables)
