"""Values read from msgpack binary literals, checked against a declared ``LiteralType``.

Propeller resolves attribute access on a dataclass input (``dc.field``) into a msgpack binary
literal of the field's value, whatever the field's declared type, so decoding a typed literal
may have to check a plain Python value rather than a literal. The simple converters double as
the final check of primitive literal values.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from flyteidl.core.types_pb2 import BlobType, LiteralType, SimpleType

from agenthost.literals.errors import LiteralConversionError, describe_value
from agenthost.literals.types import describe_type
from agenthost.literals.values import Blob, StructuredDataset

__all__ = ["COERCIBLE_KINDS", "SIMPLE_CONVERTERS", "Coercer", "coerce", "coerce_enum"]

Coercer = Callable[[Any, LiteralType, str, bool], Any]
"""(value, declared type, variable name, strict) -> the checked value."""

_UTC = datetime.timezone.utc


def coerce(value: Any, lt: LiteralType, name: str, strict: bool = False) -> Any:
    """Check (and convert) a msgpack-decoded ``value`` against ``lt``; ``strict`` demands the
    exact Python type. Raises :class:`LiteralConversionError` naming ``name`` on mismatch."""
    kind = lt.WhichOneof("type")
    if kind == "simple":
        return SIMPLE_CONVERTERS[lt.simple](value, lt, name, strict)
    coercer = _KIND_COERCERS.get(kind)
    if coercer is None:
        raise LiteralConversionError(
            f"{name}: cannot read {describe_type(lt)} from a msgpack binary literal"
        )
    return coercer(value, lt, name, strict)


def _value_mismatch(name: str, lt: LiteralType, value: Any) -> LiteralConversionError:
    return LiteralConversionError(
        f"{name}: expected {describe_type(lt)}, got {describe_value(value)}"
    )


def _to_int(value: Any, lt: LiteralType, name: str, strict: bool) -> int:
    if type(value) is int:
        return value
    # Flyte console sends whole numbers as floats; flytekit reads them back as int.
    if not strict and type(value) is float and value.is_integer():
        return int(value)
    raise _value_mismatch(name, lt, value)


def _to_float(value: Any, lt: LiteralType, name: str, strict: bool) -> float:
    if type(value) is float or (not strict and type(value) is int):
        return float(value)
    raise _value_mismatch(name, lt, value)


def _exact(python_type: type) -> Coercer:
    def convert(value: Any, lt: LiteralType, name: str, strict: bool) -> Any:
        if type(value) is python_type:
            return value
        raise _value_mismatch(name, lt, value)

    return convert


def _to_datetime(value: Any, lt: LiteralType, name: str, strict: bool) -> datetime.datetime:
    if isinstance(value, str):  # msgpack (mashumaro) writes datetimes as ISO 8601 strings
        try:
            value = datetime.datetime.fromisoformat(value)
        except ValueError:
            raise _value_mismatch(name, lt, value) from None
    if not isinstance(value, datetime.datetime):
        raise _value_mismatch(name, lt, value)
    return value if value.tzinfo is not None else value.replace(tzinfo=_UTC)


def _to_timedelta(value: Any, lt: LiteralType, name: str, strict: bool) -> datetime.timedelta:
    if isinstance(value, datetime.timedelta):
        return value
    if type(value) in (int, float):  # msgpack (mashumaro) writes durations as seconds
        return datetime.timedelta(seconds=value)
    raise _value_mismatch(name, lt, value)


def _to_none(value: Any, lt: LiteralType, name: str, strict: bool) -> None:
    if value is not None:
        raise _value_mismatch(name, lt, value)


def _to_struct(value: Any, lt: LiteralType, name: str, strict: bool) -> Any:
    if not isinstance(value, (dict, list)):
        raise _value_mismatch(name, lt, value)
    return value


def _coerce_list(value: Any, lt: LiteralType, name: str, strict: bool) -> list[Any]:
    if type(value) is not list:
        raise _value_mismatch(name, lt, value)
    element = lt.collection_type
    return [coerce(item, element, f"{name}[{i}]", strict) for i, item in enumerate(value)]


def _coerce_map(value: Any, lt: LiteralType, name: str, strict: bool) -> dict[str, Any]:
    if type(value) is not dict or not all(type(key) is str for key in value):
        raise _value_mismatch(name, lt, value)
    element = lt.map_value_type
    return {key: coerce(item, element, f"{name}[{key!r}]", strict) for key, item in value.items()}


def coerce_enum(value: Any, lt: LiteralType, name: str, strict: bool) -> str:
    if type(value) is not str or value not in lt.enum_type.values:
        raise _value_mismatch(name, lt, value)
    return value


def _coerce_union(value: Any, lt: LiteralType, name: str, strict: bool) -> Any:
    for exact in (True,) if strict else (True, False):
        for variant in lt.union_type.variants:
            try:
                return coerce(value, variant, name, exact)
            except LiteralConversionError:
                continue
    raise _value_mismatch(name, lt, value)


def _coerce_dataset(value: Any, lt: LiteralType, name: str, strict: bool) -> StructuredDataset:
    if type(value) is not dict or type(value.get("uri")) is not str:
        raise _value_mismatch(name, lt, value)
    fmt = value.get("file_format")
    return StructuredDataset(
        uri=value["uri"], file_format=lt.structured_dataset_type.format or str(fmt or "")
    )


def _coerce_blob(value: Any, lt: LiteralType, name: str, strict: bool) -> Blob:
    if type(value) is not dict or type(value.get("path")) is not str:
        raise _value_mismatch(name, lt, value)
    return Blob(
        uri=value["path"],
        format=lt.blob.format,
        multipart=lt.blob.dimensionality == BlobType.MULTIPART,
    )


SIMPLE_CONVERTERS: dict[int, Coercer] = {
    SimpleType.INTEGER: _to_int,
    SimpleType.FLOAT: _to_float,
    SimpleType.STRING: _exact(str),
    SimpleType.BOOLEAN: _exact(bool),
    SimpleType.DATETIME: _to_datetime,
    SimpleType.DURATION: _to_timedelta,
    SimpleType.NONE: _to_none,
    SimpleType.STRUCT: _to_struct,
    SimpleType.BINARY: _exact(bytes),
}

_KIND_COERCERS: dict[str | None, Coercer] = {
    "collection_type": _coerce_list,
    "map_value_type": _coerce_map,
    "enum_type": coerce_enum,
    "union_type": _coerce_union,
    "structured_dataset_type": _coerce_dataset,
    "blob": _coerce_blob,
}

COERCIBLE_KINDS = frozenset(_KIND_COERCERS) | {"simple"}
"""LiteralType kinds (``WhichOneof("type")``) whose values can be read from msgpack."""
