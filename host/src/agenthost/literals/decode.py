"""flyteidl ``Literal``/``LiteralMap`` to plain Python values, as flytekit's TypeEngine reads them.

With a declared ``LiteralType`` the literal is checked against it (and msgpack values produced by
attribute access on dataclasses are accepted for it); without one the literal's own kind decides.
Dispatch goes through dicts keyed on protobuf ``WhichOneof`` results.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any

import msgpack
from flyteidl.core.interface_pb2 import Variable, VariableMap
from flyteidl.core.literals_pb2 import Literal, LiteralMap, Primitive, Scalar
from flyteidl.core.types_pb2 import BlobType, LiteralType, SimpleType
from google.protobuf.json_format import MessageToDict

from agenthost.literals.coerce import COERCIBLE_KINDS, SIMPLE_CONVERTERS, coerce, coerce_enum
from agenthost.literals.errors import LiteralConversionError, describe_value
from agenthost.literals.types import MSGPACK_TAG, check_names, describe_type, variable_types
from agenthost.literals.values import Blob, StructuredDataset

__all__ = ["from_literal", "from_literal_map", "literal_map_to_python"]

# (literal, declared type, variable name, strict) -> value. ``strict`` accepts only the literal
# kind that the type itself produces; it is used to pick the variant of a bare literal in a union.
_Decoder = Callable[[Literal, LiteralType, str, bool], Any]

_UTC = datetime.timezone.utc
_CONVERSION_ERRORS = (TypeError, ValueError, OverflowError)


def from_literal(
    literal: Literal, literal_type: LiteralType | None = None, *, name: str = "value"
) -> Any:
    """Decode ``literal`` to a Python value, checked against ``literal_type`` when given.

    Datetimes come back timezone-aware in UTC, durations as ``timedelta``, msgpack structs as
    dicts, datasets and files as :class:`StructuredDataset` / :class:`Blob`, enums as their
    string value and unions as the value of their variant. ``name`` names the value in errors.
    """
    if literal_type is None or literal_type.WhichOneof("type") is None:
        return _decode_untyped(literal, name)
    return _decode(literal, literal_type, name, False)


_EXACT_PRIMITIVE_KIND: dict[int, str] = {
    SimpleType.INTEGER: "integer",
    SimpleType.FLOAT: "float_value",
    SimpleType.STRING: "string_value",
    SimpleType.BOOLEAN: "boolean",
}


def check_literal(literal: Literal, literal_type: LiteralType, *, name: str = "value") -> None:
    """Raise the ``LiteralConversionError`` ``from_literal`` would raise for ``literal`` as
    ``literal_type``, without building the value when the literal is plainly of that type
    (an integer, float, string or boolean primitive declared as exactly that)."""
    if not plainly_of_type(literal, literal_type):
        from_literal(literal, literal_type, name=name)


def plainly_of_type(literal: Literal, literal_type: LiteralType) -> bool:
    """Whether ``literal`` is an integer, float, string or boolean primitive and
    ``literal_type`` exactly that simple type (no value is built; False means "not plainly",
    for ``check_literal`` to decide)."""
    # ``simple`` reads 0 (NONE, not in the table) unless the type is a simple one.
    expected = _EXACT_PRIMITIVE_KIND.get(literal_type.simple)
    return expected is not None and literal.scalar.primitive.WhichOneof("value") == expected


def from_literal_map(
    literal_map: LiteralMap,
    variables: VariableMap | Mapping[str, LiteralType] | Mapping[str, Variable] | None = None,
    *,
    kind: str = "input",
) -> dict[str, Any]:
    """Decode a LiteralMap to ``{name: value}``, checked against ``variables`` when given.

    With ``variables`` (e.g. ``template.interface.inputs``) every declared name must be present
    and no other. ``kind`` ("input", "output") prefixes the variable names in error messages.
    """
    literals = literal_map.literals
    if variables is None:
        return {key: _decode_untyped(lit, f"{kind} {key!r}") for key, lit in literals.items()}
    declared = variable_types(variables)
    check_names(literals, declared, kind)
    return {
        key: from_literal(literals[key], lt, name=f"{kind} {key!r}") for key, lt in declared.items()
    }


literal_map_to_python = from_literal_map
"""The former name of ``from_literal_map``, kept for existing callers."""


def describe_literal(literal: Literal) -> str:
    """Return a short description of a literal's kind (and value, if a primitive), for messages."""
    kind = literal.WhichOneof("value")
    if kind == "collection":
        return f"collection literal of {len(literal.collection.literals)} items"
    if kind == "map":
        return "map literal"
    if kind == "offloaded_metadata":
        return "offloaded literal"
    if kind != "scalar":
        return "empty literal"
    return _describe_scalar(literal.scalar)


def _describe_scalar(scalar: Scalar) -> str:
    """``describe_literal`` of a scalar literal."""
    scalar_kind = scalar.WhichOneof("value")
    if scalar_kind == "primitive":
        return _describe_primitive(scalar.primitive)
    if scalar_kind == "binary":
        tag = scalar.binary.tag
        return f"binary literal (tag {tag!r})" if tag else "binary literal"
    if scalar_kind == "union":
        return f"union literal of {describe_type(scalar.union.type)}"
    if scalar_kind == "blob":
        multipart = scalar.blob.metadata.type.dimensionality == BlobType.MULTIPART
        return "directory literal" if multipart else "file literal"
    return f"{_SCALAR_NAMES.get(scalar_kind, 'empty')} literal"


def _describe_primitive(primitive: Primitive) -> str:
    """``describe_literal`` of a primitive literal: its type and value."""
    primitive_kind = primitive.WhichOneof("value")
    if primitive_kind is None:
        return "empty primitive literal"
    label = f"{_PRIMITIVE_NAMES[primitive_kind]} literal"
    try:
        value = _PRIMITIVES[primitive_kind](primitive)
    except _CONVERSION_ERRORS:  # e.g. a timestamp beyond datetime's range
        return f"out-of-range {label}"
    return f"{label} {describe_value(value).split(' ', 1)[1]}"


def _mismatch(name: str, literal_type: LiteralType, literal: Literal) -> LiteralConversionError:
    return LiteralConversionError(
        f"{name}: expected {describe_type(literal_type)}, got {describe_literal(literal)}"
    )


def _scalar_kind(literal: Literal) -> str | None:
    return literal.scalar.WhichOneof("value") if literal.HasField("scalar") else None


def _primitive_kind(literal: Literal) -> str | None:
    if _scalar_kind(literal) != "primitive":
        return None
    kind: str | None = literal.scalar.primitive.WhichOneof("value")
    return kind


def _is_msgpack(literal: Literal) -> bool:
    return _scalar_kind(literal) == "binary" and literal.scalar.binary.tag == MSGPACK_TAG


def _unpack(data: bytes, name: str) -> Any:
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise LiteralConversionError(f"{name}: malformed msgpack binary literal: {exc}") from exc


# --- untyped -------------------------------------------------------------------------------


def _datetime_value(primitive: Primitive) -> datetime.datetime:
    moment: datetime.datetime = primitive.datetime.ToDatetime(tzinfo=_UTC)
    return moment


def _duration_value(primitive: Primitive) -> datetime.timedelta:
    duration: datetime.timedelta = primitive.duration.ToTimedelta()
    return duration


_PRIMITIVES: dict[str, Callable[[Primitive], Any]] = {
    "integer": lambda p: p.integer,
    "float_value": lambda p: p.float_value,
    "string_value": lambda p: p.string_value,
    "boolean": lambda p: p.boolean,
    "datetime": _datetime_value,
    "duration": _duration_value,
}

_PRIMITIVE_NAMES: dict[str, str] = {
    "integer": "integer",
    "float_value": "float",
    "string_value": "string",
    "boolean": "boolean",
    "datetime": "datetime",
    "duration": "duration",
}

_SCALAR_NAMES: dict[str | None, str] = {
    "none_type": "none",
    "generic": "generic struct",
    "structured_dataset": "structured dataset",
    "schema": "schema",
    "error": "error",
}


def _untyped_primitive(scalar: Scalar, name: str) -> Any:
    decoder = _PRIMITIVES.get(scalar.primitive.WhichOneof("value"))
    if decoder is None:
        raise LiteralConversionError(f"{name}: empty primitive literal")
    return _guarded(decoder, scalar.primitive, name)


def _guarded(decoder: Callable[[Primitive], Any], primitive: Primitive, name: str) -> Any:
    try:
        return decoder(primitive)
    except (ValueError, OverflowError) as exc:
        raise LiteralConversionError(f"{name}: primitive literal out of range: {exc}") from exc


def _untyped_binary(scalar: Scalar, name: str) -> Any:
    if scalar.binary.tag == MSGPACK_TAG:
        return _unpack(scalar.binary.value, name)
    return scalar.binary.value


def _dataset_value(scalar: Scalar, default_format: str = "") -> StructuredDataset:
    dataset = scalar.structured_dataset
    fmt = dataset.metadata.structured_dataset_type.format or default_format
    return StructuredDataset(uri=dataset.uri, file_format=fmt)


def _blob_value(scalar: Scalar, default_format: str = "") -> Blob:
    blob = scalar.blob
    blob_type = blob.metadata.type
    return Blob(
        uri=blob.uri,
        format=blob_type.format or default_format,
        multipart=blob_type.dimensionality == BlobType.MULTIPART,
    )


def _untyped_union(scalar: Scalar, name: str) -> Any:
    union = scalar.union
    if union.HasField("type") and union.type.WhichOneof("type") is not None:
        return _decode(union.value, union.type, name, False)
    return _decode_untyped(union.value, name)


_UNTYPED_SCALARS: dict[str | None, Callable[[Scalar, str], Any]] = {
    "primitive": _untyped_primitive,
    "none_type": lambda scalar, name: None,
    "binary": _untyped_binary,
    "generic": lambda scalar, name: MessageToDict(scalar.generic),
    "structured_dataset": lambda scalar, name: _dataset_value(scalar),
    "blob": lambda scalar, name: _blob_value(scalar),
    "union": _untyped_union,
}


def _decode_untyped(literal: Literal, name: str) -> Any:
    try:
        return _decode_untyped_unguarded(literal, name)
    except _CONVERSION_ERRORS as exc:
        raise LiteralConversionError(
            f"{name}: cannot decode a {describe_literal(literal)}: {exc}"
        ) from exc


def _decode_untyped_unguarded(literal: Literal, name: str) -> Any:
    kind = literal.WhichOneof("value")
    if kind == "scalar":
        decoder = _UNTYPED_SCALARS.get(literal.scalar.WhichOneof("value"))
        if decoder is None:
            raise LiteralConversionError(f"{name}: cannot decode a {describe_literal(literal)}")
        return decoder(literal.scalar, name)
    if kind == "collection":
        return [
            _decode_untyped(item, f"{name}[{index}]")
            for index, item in enumerate(literal.collection.literals)
        ]
    if kind == "map":
        return {
            key: _decode_untyped(item, f"{name}[{key!r}]")
            for key, item in literal.map.literals.items()
        }
    raise LiteralConversionError(f"{name}: cannot decode a {describe_literal(literal)}")


# --- typed ---------------------------------------------------------------------------------


def _decode(literal: Literal, literal_type: LiteralType, name: str, strict: bool) -> Any:
    kind = literal_type.WhichOneof("type")
    decoder = _KIND_DECODERS.get(kind)
    if decoder is None:
        raise LiteralConversionError(
            f"{name}: cannot decode values of type {describe_type(literal_type)}"
        )
    try:
        if (
            _is_msgpack(literal)
            and kind in COERCIBLE_KINDS
            and literal_type.simple != SimpleType.BINARY
        ):
            value = _unpack(literal.scalar.binary.value, name)
            return coerce(value, literal_type, name, strict)
        return decoder(literal, literal_type, name, strict)
    except _CONVERSION_ERRORS as exc:  # e.g. a duration beyond timedelta's range
        raise LiteralConversionError(
            f"{name}: cannot decode a {describe_literal(literal)} as "
            f"{describe_type(literal_type)}: {exc}"
        ) from exc


def _dec_simple(literal: Literal, lt: LiteralType, name: str, strict: bool) -> Any:
    decoder = _SIMPLE_DECODERS.get(lt.simple)
    if decoder is None:
        raise LiteralConversionError(f"{name}: cannot decode values of type {describe_type(lt)}")
    return decoder(literal, lt, name, strict)


def _primitive_decoder(*kinds: str, lenient: tuple[str, ...] = ()) -> _Decoder:
    """Decode a primitive literal of one of ``kinds`` (or, unless strict, ``lenient``)."""

    def decode(literal: Literal, lt: LiteralType, name: str, strict: bool) -> Any:
        kind = _primitive_kind(literal)
        if kind in kinds or (not strict and kind in lenient):
            value = _guarded(_PRIMITIVES[kind], literal.scalar.primitive, name)
            return SIMPLE_CONVERTERS[lt.simple](value, lt, name, strict)
        raise _mismatch(name, lt, literal)

    return decode


def _dec_none(literal: Literal, lt: LiteralType, name: str, strict: bool) -> None:
    if _scalar_kind(literal) != "none_type":
        raise _mismatch(name, lt, literal)


def _dec_binary(literal: Literal, lt: LiteralType, name: str, strict: bool) -> bytes:
    if _scalar_kind(literal) != "binary":
        raise _mismatch(name, lt, literal)
    data: bytes = literal.scalar.binary.value
    return data


def _dec_struct(literal: Literal, lt: LiteralType, name: str, strict: bool) -> Any:
    kind = _scalar_kind(literal)
    if kind == "generic":
        return MessageToDict(literal.scalar.generic)
    raise _mismatch(name, lt, literal)


def _dec_collection(literal: Literal, lt: LiteralType, name: str, strict: bool) -> list[Any]:
    if literal.WhichOneof("value") != "collection":
        raise _mismatch(name, lt, literal)
    element = lt.collection_type
    return [
        _decode(item, element, f"{name}[{index}]", strict)
        for index, item in enumerate(literal.collection.literals)
    ]


def _dec_map(literal: Literal, lt: LiteralType, name: str, strict: bool) -> dict[str, Any]:
    if literal.WhichOneof("value") != "map":
        raise _mismatch(name, lt, literal)
    element = lt.map_value_type
    return {
        key: _decode(item, element, f"{name}[{key!r}]", strict)
        for key, item in literal.map.literals.items()
    }


def _dec_enum(literal: Literal, lt: LiteralType, name: str, strict: bool) -> str:
    if _primitive_kind(literal) != "string_value":
        raise _mismatch(name, lt, literal)
    return coerce_enum(literal.scalar.primitive.string_value, lt, name, strict)


def _dec_dataset(literal: Literal, lt: LiteralType, name: str, strict: bool) -> StructuredDataset:
    if _scalar_kind(literal) != "structured_dataset":
        raise _mismatch(name, lt, literal)
    return _dataset_value(literal.scalar, lt.structured_dataset_type.format)


def _dec_blob(literal: Literal, lt: LiteralType, name: str, strict: bool) -> Blob:
    if (
        _scalar_kind(literal) != "blob"
        or literal.scalar.blob.metadata.type.dimensionality != lt.blob.dimensionality
    ):
        raise _mismatch(name, lt, literal)
    return _blob_value(literal.scalar, lt.blob.format)


def _dec_union(literal: Literal, lt: LiteralType, name: str, strict: bool) -> Any:
    variants = lt.union_type.variants
    if _scalar_kind(literal) == "union":
        union = literal.scalar.union
        variant = _matching_variant(union.type, variants)
        if variant is None:
            raise _mismatch(name, lt, literal)
        return _decode(union.value, variant, name, strict)
    # A bare literal (e.g. a default value written without the union wrapper).
    for exact in (True,) if strict else (True, False):
        for variant in variants:
            try:
                return _decode(literal, variant, name, exact)
            except LiteralConversionError:
                continue
    raise _mismatch(name, lt, literal)


def _matching_variant(stored: LiteralType, variants: Any) -> LiteralType | None:
    """The declared variant that a union literal's stored type stands for, if any."""
    for variant in variants:
        if variant == stored:
            return variant  # type: ignore[no-any-return]
    shaped = [v for v in variants if _same_shape(v, stored)]
    tagged = [v for v in shaped if v.structure.tag == stored.structure.tag]
    candidates = tagged or shaped
    return candidates[0] if candidates else None


def _same_shape(a: LiteralType, b: LiteralType) -> bool:
    kind = a.WhichOneof("type")
    if kind != b.WhichOneof("type"):
        return False
    if kind == "simple":
        return bool(a.simple == b.simple)
    if kind == "collection_type":
        return _same_shape(a.collection_type, b.collection_type)
    if kind == "map_value_type":
        return _same_shape(a.map_value_type, b.map_value_type)
    if kind == "blob":
        return bool(a.blob.dimensionality == b.blob.dimensionality)
    if kind == "enum_type":
        return set(b.enum_type.values) <= set(a.enum_type.values)
    if kind == "union_type":
        return len(a.union_type.variants) == len(b.union_type.variants) and all(
            _same_shape(x, y)
            for x, y in zip(a.union_type.variants, b.union_type.variants, strict=True)
        )
    return True


_SIMPLE_DECODERS: dict[int, _Decoder] = {
    SimpleType.INTEGER: _primitive_decoder("integer", lenient=("float_value",)),
    SimpleType.FLOAT: _primitive_decoder("float_value", lenient=("integer",)),
    SimpleType.STRING: _primitive_decoder("string_value"),
    SimpleType.BOOLEAN: _primitive_decoder("boolean"),
    SimpleType.DATETIME: _primitive_decoder("datetime"),
    SimpleType.DURATION: _primitive_decoder("duration"),
    SimpleType.NONE: _dec_none,
    SimpleType.BINARY: _dec_binary,
    SimpleType.STRUCT: _dec_struct,
}

_KIND_DECODERS: dict[str | None, _Decoder] = {
    "simple": _dec_simple,
    "collection_type": _dec_collection,
    "map_value_type": _dec_map,
    "enum_type": _dec_enum,
    "structured_dataset_type": _dec_dataset,
    "blob": _dec_blob,
    "union_type": _dec_union,
}
