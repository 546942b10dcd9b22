"""What ``agenthost run`` reads from files and the command line: task templates (binary
protobuf or flyteidl JSON, as ``pyflyte serialize`` and ``flytectl`` write them), ``NAME=VALUE``
inputs, JSON arguments (``@file.json``) and LiteralMaps in JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flyteidl.admin import task_pb2
from flyteidl.core import literals_pb2, tasks_pb2, types_pb2
from google.protobuf import json_format
from google.protobuf.message import DecodeError

from agenthost.errors import InvalidRequestError


class TemplateError(InvalidRequestError):
    """A task template or its inputs could not be read or built (a usage error)."""


def load_template(path: Path) -> tasks_pb2.TaskTemplate:
    """Read a task template from ``path``: binary protobuf (``.pb``; a ``TaskTemplate`` or a
    ``TaskSpec`` as ``pyflyte serialize`` writes) or flyteidl JSON (a ``TaskTemplate``, a
    ``TaskSpec`` ``{"template": ...}`` or an admin ``Task`` as ``flytectl get task -o json``
    prints it). Raises ``TemplateError``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TemplateError(f"cannot read template {path}: {exc.strerror or exc}") from None
    if path.suffix.lower() == ".json" or data.lstrip()[:1] in (b"{", b"["):
        return _template_from_json(path, data)
    return _template_from_binary(path, data)


def _template_from_binary(path: Path, data: bytes) -> tasks_pb2.TaskTemplate:
    spec = task_pb2.TaskSpec()
    try:
        spec.ParseFromString(data)
        # A bare TaskTemplate also parses as a TaskSpec, but never with a typed template id.
        if spec.template.type and spec.template.HasField("id"):
            return spec.template  # type: ignore[no-any-return]
    except (DecodeError, ValueError, RuntimeError):
        pass
    template = tasks_pb2.TaskTemplate()
    try:
        template.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError):
        raise TemplateError(f"{path} is not a protobuf TaskTemplate or TaskSpec") from None
    if not template.type:
        raise TemplateError(f"{path} holds no task template (it has no task type)")
    return template


def _template_from_json(path: Path, data: bytes) -> tasks_pb2.TaskTemplate:
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise TemplateError(f"{path} is not valid JSON") from None
    if isinstance(obj, dict):
        closure = obj.get("closure")
        if isinstance(closure, dict):
            obj = closure.get("compiledTask") or closure.get("compiled_task") or obj
        if isinstance(obj, dict) and isinstance(obj.get("template"), dict):
            obj = obj["template"]
    if not isinstance(obj, dict):
        raise TemplateError(f"{path} does not hold a JSON object")
    template = tasks_pb2.TaskTemplate()
    try:
        json_format.ParseDict(obj, template, ignore_unknown_fields=False)
    except json_format.ParseError as exc:
        raise TemplateError(f"{path} is not a flyteidl TaskTemplate: {exc}") from None
    if not template.type:
        raise TemplateError(f"{path} holds no task template (it has no task type)")
    return template


def parse_input_assignments(
    assignments: Sequence[str], template: tasks_pb2.TaskTemplate | None
) -> dict[str, Any]:
    """``["name=value", ...]`` to ``{name: value}``. A value is kept as text when the
    template declares the input a string; otherwise it is JSON if it parses, else text."""
    declared = (
        template.interface.inputs.variables
        if template is not None and template.HasField("interface")
        else {}
    )
    values: dict[str, Any] = {}
    for item in assignments:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise TemplateError(f"--input {item!r} is not NAME=VALUE")
        variable = declared.get(name)
        if variable is not None and variable.type.simple == types_pb2.STRING:
            values[name] = raw
            continue
        try:
            values[name] = json.loads(raw)
        except ValueError:
            values[name] = raw
    return values


def looks_like_literal_map(obj: Any) -> bool:
    """Whether ``obj`` is a flyteidl ``LiteralMap`` in JSON (``{"literals": {...}}``)."""
    return (
        isinstance(obj, dict)
        and set(obj) == {"literals"}
        and isinstance(obj["literals"], dict)
        and all(
            isinstance(v, dict)
            and bool(v.keys() & {"scalar", "collection", "map", "offloadedMetadata"})
            for v in obj["literals"].values()
        )
    )


def json_argument(option: str, text: str) -> Any:
    """The JSON value of an option given inline or as ``@file.json``; ``TemplateError`` naming
    ``option`` if the file cannot be read or the text is not JSON."""
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise TemplateError(f"{option}: cannot read {text[1:]}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise TemplateError(f"{option} is not valid JSON: {exc}") from None


def literal_map_from_json(obj: Any, option: str = "--inputs") -> literals_pb2.LiteralMap:
    """A flyteidl ``LiteralMap`` from its JSON form (see ``looks_like_literal_map``);
    ``TemplateError`` naming ``option`` if it is not a valid one."""
    try:
        return json_format.ParseDict(obj, literals_pb2.LiteralMap())
    except json_format.ParseError as exc:
        raise TemplateError(f"{option} is not a valid LiteralMap: {exc}") from None
