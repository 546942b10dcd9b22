"""Python values to flyteidl ``Literal``/``LiteralMap``, producing what flytekit's TypeEngine does.

With a declared ``LiteralType`` the value is checked against it; without one the literal kind is
chosen from the value's Python type. Dispatch goes through dicts keyed on the type's ``WhichOneof``
kind, its ``SimpleType`` or the value's class, so no per-call introspection is needed.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Callable, Mapping
from typing import Any

import msgpack
from flyteidl.core.interface_pb2 import Variable, VariableMap
from flyteidl.core.literals_pb2 import (
    Binary,
    BlobMetadata,
    Literal,
    LiteralCollection,
    LiteralMap,
    Scalar,
    StructuredDatasetMetadata,
    Void,
)
from flyteidl.core.literals_pb2 import Blob as BlobLiteral
from flyteidl.core.literals_pb2 import StructuredDataset as DatasetLiteral
from flyteidl.core.literals_pb2 import Union as UnionLiteral
from flyteidl.core.types_pb2 import BlobType, LiteralType, SimpleType, StructuredDatasetType
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from agenthost.literals.errors import LiteralConversionError, describe_value
from agenthost.literals.types import (
    MSGPACK_TAG,
    blob_type,
    check_names,
    describe_type,
    structured_dataset_type,
    variable_types,
)
from agenthost.literals.values import Blob, StructuredDataset

__all__ = ["to_literal", "to_literal_map"]

# (value, declared type, variable name, strict) -> Literal. ``strict`` demands the exact Python
# type (as flytekit does) and is used to pick a union variant before lenient matching.
_Encoder = Callable[[Any, LiteralType, str, bool], Literal]
_UntypedEncoder = Callable[[Any, str], Literal]

_CONVERSION_ERRORS = (TypeError, ValueError, OverflowError)

_PRIMITIVE_FIELDS: dict[type, str] = {
    bool: "boolean",
    int: "integer",
    float: "float_value",
    str: "string_value",
}
"""The ``Primitive`` field an untyped value of exactly this type is written to."""


def to_literal(
    value: Any, literal_type: LiteralType | None = None, *, name: str = "value"
) -> Literal:
    """Encode ``value`` as a Literal of ``literal_type``, or of the kind its Python type implies.

    ``name`` names the value in error messages (e.g. ``"output 'y'"``). Raises
    :class:`LiteralConversionError` when the value does not match the declared type.
    """
    if literal_type is None or literal_type.WhichOneof("type") is None:
        return _encode_untyped(value, name)
    return _encode(value, literal_type, name, False)


def to_literal_map(
    values: Mapping[str, Any],
    variables: VariableMap | Mapping[str, LiteralType] | Mapping[str, Variable] | None = None,
    *,
    kind: str = "output",
    into: LiteralMap | None = None,
) -> LiteralMap:
    """Encode named values as a LiteralMap, checked against ``variables`` when given.

    With ``variables`` (e.g. ``template.interface.outputs``) every declared name must be present
    and no other. ``kind`` ("output", "input") prefixes the variable names in error messages.
    ``into`` is an empty LiteralMap (e.g. a field of a message being built) to fill and return
    instead of a new one, which saves a copy.
    """
    target = LiteralMap() if into is None else into
    literals = target.literals
    if variables is None:
        for key, value in values.items():
            field = _PRIMITIVE_FIELDS.get(type(value))
            if field is not None:
                try:
                    setattr(literals[key].scalar.primitive, field, value)
                    continue
                except _CONVERSION_ERRORS:  # e.g. an int beyond int64: explained below
                    pass
            literals[key].CopyFrom(_encode_untyped(value, f"{kind} {key!r}"))
        return target
    declared = variable_types(variables)
    check_names(values, declared, kind)
    for key, lt in declared.items():
        literals[key].CopyFrom(to_literal(values[key], lt, name=f"{kind} {key!r}"))
    return target


def _mismatch(name: str, literal_type: LiteralType, value: Any) -> LiteralConversionError:
    return LiteralConversionError(
        f"{name}: expected {describe_type(literal_type)}, got {describe_value(value)}"
    )


def _encode(value: Any, literal_type: LiteralType, name: str, strict: bool) -> Literal:
    encoder = _KIND_ENCODERS.get(literal_type.WhichOneof("type"))
    if encoder is None:
        raise LiteralConversionError(
            f"{name}: cannot encode values of type {describe_type(literal_type)}"
        )
    try:
        return encoder(value, literal_type, name, strict)
    except _CONVERSION_ERRORS as exc:  # protobuf rejecting a value, e.g. an int beyond int64
        raise LiteralConversionError(
            f"{name}: cannot encode {describe_value(value)} as {describe_type(literal_type)}: {exc}"
        ) from exc


def _primitive(**field: Any) -> Literal:
    literal = Literal()
    primitive = literal.scalar.primitive
    for key, value in field.items():
        if isinstance(value, Message):
            getattr(primitive, key).CopyFrom(value)
        else:
            setattr(primitive, key, value)
    return literal


def _encode_simple(value: Any, literal_type: LiteralType, name: str, strict: bool) -> Literal:
    encoder = _SIMPLE_ENCODERS.get(literal_type.simple)
    if encoder is None:
        raise LiteralConversionError(
            f"{name}: cannot encode values of type {describe_type(literal_type)}"
        )
    return encoder(value, literal_type, name, strict)


def _enc_integer(value: Any, lt: LiteralType, name: str, strict: bool) -> Literal:
    if type(value) is int or (
        not strict and isinstance(value, int) and not isinstance(value, bool)
    ):
        return _primitive(integer=int(value))
    raise _mismatch(name, lt, value)


def _enc_float(value: Any, lt: LiteralType, name: str, strict: bool) -> Literal:
    if type(value) is float or (
        not strict and isinstance(value, (int, float)) and not isinstance(value, bool)
    ):
        return _primitive(float_value=float(value))
    raise _mismatch(name, lt, value)


def _enc_string(value: Any, lt: LiteralType, name: str, strict: bool) -> Literal:
    if type(value) is str:
        return _primitive(string_value=value)
    if not strict and isinstance(value, str):
        text = value.value if isinstance(value, enum.Enum) else str.__str__(value)
        return _primitive(string_value=text)
    raise _mismatch(name, lt, value)


def _enc_boolean(value: Any, lt: LiteralType, name: str, strict: bool) -> Literal:
    if type(value) is bool:
        return _primitive(boolean=value)
    raise _mismatch(name, lt, value)


def _enc_datetime(value: Any, lt: LiteralType, name: str, strict: bool) -> Literal:
    if isinstance(value, datetime.datetime):
        moment = value
    elif not strict and isinstance(value, datetime.date):
        moment = datetime.datetime.combine(value, datetime.time.min)
    else:
        raise _mismatch(name, lt, value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    stamp = Timestamp()
    stamp.FromDatetime(moment)  # a naive datetime is read as UTC, as flytekit does
    return _primitive(datetime=stamp)


def _enc_duration(value: Any, lt: LiteralType, name: str, strict: bool) -> Literal:
    if not isinstance(value, datetime.timedelta):
        raise _mismatch(name, lt, value)
    duration = Duration()
    duration.FromTimedelta(value)
    return _primitive(duration=duration)


def _enc_none(value: Any, lt: LiteralType, name: str, strict: bool) -> Literal:
    if value is not None:
        raise _mismatch(name, lt, value)
    return _none_literal()


def _none_literal() -> Literal:
    return Literal(scalar=Scalar(none_type=Void()))


def _enc_binary(value: Any, lt: LiteralType, name: str, strict: bool) -> Literal:
    if not isinstance(value, (bytes, bytearray)):
        raise _mismatch(name, lt, value)
    return Literal(scalar=Scalar(binary=Binary(value=bytes(value))))


def _enc_struct(value: Any, lt: LiteralType, name: str, strict: bool) -> Literal:
    if type(value) is not dict and (strict or not isinstance(value, dict)):
        raise _mismatch(name, lt, value)
    return _msgpack_literal(value, lt, name)


def _msgpack_literal(value: Any, lt: LiteralType, name: str) -> Literal:
    try:
        packed = msgpack.packb(value, use_bin_type=True)
    except _CONVERSION_ERRORS as exc:
        raise LiteralConversionError(
            f"{name}: cannot encode {describe_value(value)} as {describe_type(lt)} (msgpack): {exc}"
        ) from exc
    return Literal(scalar=Scalar(binary=Binary(value=packed, tag=MSGPACK_TAG)))


def _enc_collection(value: Any, lt: LiteralType, name: str, strict: bool) -> Literal:
    if type(value) is not list and (strict or not isinstance(value, (list, tuple))):
        raise _mismatch(name, lt, value)
    element = lt.collection_type
    return Literal(
        collection=LiteralCollection(
            literals=[
                _encode(item, element, f"{name}[{index}]", strict)
                for index, item in enumerate(value)
            ]
        )
    )


def _enc_map(value: Any, lt: LiteralType, name: str, strict: bool) -> Literal:
    if type(value) is not dict and (strict or not isinstance(value, Mapping)):
        raise _mismatch(name, lt, value)
    element = lt.map_value_type
    literals: dict[str, Literal] = {}
    for key, item in value.items():
        if type(key) is not str:
            raise LiteralConversionError(
                f"{name}: expected {describe_type(lt)}, got a {type(key).__name__} key {key!r:.40}"
            )
        literals[key] = _encode(item, element, f"{name}[{key!r}]", strict)
    return Literal(map=LiteralMap(literals=literals))


def _enc_enum(value: Any, lt: LiteralType, name: str, strict: bool) -> Literal:
    if isinstance(value, enum.Enum):
        text = value.value
    elif type(value) is str or (not strict and isinstance(value, str)):
        text = str.__str__(value)
    else:
        raise _mismatch(name, lt, value)
    if not isinstance(text, str) or text not in lt.enum_type.values:
        raise _mismatch(name, lt, value)
    return _primitive(string_value=text)


def _enc_dataset(value: Any, lt: LiteralType, name: str, strict: bool) -> Literal:
    if not isinstance(value, StructuredDataset):
        raise _mismatch(name, lt, value)
    dataset_type = StructuredDatasetType()
    dataset_type.CopyFrom(lt.structured_dataset_type)
    if not dataset_type.format:
        dataset_type.format = value.file_format
    return Literal(
        scalar=Scalar(
            structured_dataset=DatasetLiteral(
                uri=value.uri,
                metadata=StructuredDatasetMetadata(structured_dataset_type=dataset_type),
            )
        )
    )


def _enc_blob(value: Any, lt: LiteralType, name: str, strict: bool) -> Literal:
    declared = lt.blob
    multipart = declared.dimensionality == BlobType.MULTIPART
    if isinstance(value, Blob) and value.multipart == multipart:
        uri, fmt = value.uri, declared.format or value.format
    elif not strict and isinstance(value, str):
        uri, fmt = value, declared.format
    else:
        raise _mismatch(name, lt, value)
    return Literal(
        scalar=Scalar(
            blob=BlobLiteral(
                uri=uri,
                metadata=BlobMetadata(
                    type=BlobType(format=fmt, dimensionality=declared.dimensionality)
                ),
            )
        )
    )


def _enc_union(value: Any, lt: LiteralType, name: str, strict: bool) -> Literal:
    variants = lt.union_type.variants
    for exact in (True,) if strict else (True, False):
        matches: list[tuple[LiteralType, Literal]] = []
        for variant in variants:
            try:
                matches.append((variant, _encode(value, variant, name, exact)))
            except LiteralConversionError:
                continue
        if len(matches) > 1 and type(value) is str:
            # As flytekit: a bare string matching both a string and an enum variant is a string.
            strings = [m for m in matches if m[0].WhichOneof("type") == "simple"]
            matches = strings if len(strings) == 1 else matches
        if len(matches) > 1:
            raise LiteralConversionError(
                f"{name}: ambiguous {describe_type(lt)} for {describe_value(value)}: matches "
                + ", ".join(describe_type(m[0]) for m in matches)
            )
        if matches:
            variant, literal = matches[0]
            return Literal(scalar=Scalar(union=UnionLiteral(value=literal, type=variant)))
    raise _mismatch(name, lt, value)


_SIMPLE_ENCODERS: dict[int, _Encoder] = {
    SimpleType.INTEGER: _enc_integer,
    SimpleType.FLOAT: _enc_float,
    SimpleType.STRING: _enc_string,
    SimpleType.BOOLEAN: _enc_boolean,
    SimpleType.DATETIME: _enc_datetime,
    SimpleType.DURATION: _enc_duration,
    SimpleType.NONE: _enc_none,
    SimpleType.BINARY: _enc_binary,
    SimpleType.STRUCT: _enc_struct,
}

_KIND_ENCODERS: dict[str | None, _Encoder] = {
    "simple": _encode_simple,
    "collection_type": _enc_collection,
    "map_value_type": _enc_map,
    "enum_type": _enc_enum,
    "structured_dataset_type": _enc_dataset,
    "blob": _enc_blob,
    "union_type": _enc_union,
}


_INTEGER_TYPE = LiteralType(simple=SimpleType.INTEGER)
_FLOAT_TYPE = LiteralType(simple=SimpleType.FLOAT)
_STRING_TYPE = LiteralType(simple=SimpleType.STRING)
_DATETIME_TYPE = LiteralType(simple=SimpleType.DATETIME)
_DURATION_TYPE = LiteralType(simple=SimpleType.DURATION)
_BINARY_TYPE = LiteralType(simple=SimpleType.BINARY)
_STRUCT_TYPE = LiteralType(simple=SimpleType.STRUCT)


def _untyped_simple(encoder: _Encoder, lt: LiteralType) -> _UntypedEncoder:
    def encode(value: Any, name: str) -> Literal:
        return encoder(value, lt, name, False)

    return encode


def _untyped_list(value: Any, name: str) -> Literal:
    return Literal(
        collection=LiteralCollection(
            literals=[_encode_untyped(item, f"{name}[{i}]") for i, item in enumerate(value)]
        )
    )


def _untyped_dict(value: Any, name: str) -> Literal:
    """An untyped dict is msgpack (flytekit's ``dict``); one msgpack cannot hold becomes a map."""
    try:
        return _msgpack_literal(value, _STRUCT_TYPE, name)
    except LiteralConversionError:
        if not all(type(key) is str for key in value):
            raise
    return Literal(
        map=LiteralMap(literals={k: _encode_untyped(v, f"{name}[{k!r}]") for k, v in value.items()})
    )


def _untyped_enum(value: Any, name: str) -> Literal:
    return _encode_untyped(value.value, name)


def _untyped_dataset(value: Any, name: str) -> Literal:
    return _enc_dataset(value, structured_dataset_type(), name, False)


def _untyped_blob(value: Any, name: str) -> Literal:
    return _enc_blob(value, blob_type(value.format, multipart=value.multipart), name, False)


def _untyped_date(value: Any, name: str) -> Literal:
    return _enc_datetime(value, _DATETIME_TYPE, name, False)


_UNTYPED_ENCODERS: dict[type, _UntypedEncoder] = {
    type(None): lambda value, name: _none_literal(),
    bool: lambda value, name: _primitive(boolean=value),
    int: _untyped_simple(_enc_integer, _INTEGER_TYPE),
    float: _untyped_simple(_enc_float, _FLOAT_TYPE),
    str: _untyped_simple(_enc_string, _STRING_TYPE),
    datetime.datetime: _untyped_simple(_enc_datetime, _DATETIME_TYPE),
    datetime.date: _untyped_date,
    datetime.timedelta: lambda value, name: _enc_duration(value, _DURATION_TYPE, name, False),
    bytes: lambda value, name: _enc_binary(value, _BINARY_TYPE, name, False),
    bytearray: lambda value, name: _enc_binary(value, _BINARY_TYPE, name, False),
    list: _untyped_list,
    tuple: _untyped_list,
    dict: _untyped_dict,
    StructuredDataset: _untyped_dataset,
    Blob: _untyped_blob,
}


_RESOLVED_SUBCLASSES: dict[type, _UntypedEncoder | None] = {}


def _untyped_encoder_for(cls: type) -> _UntypedEncoder | None:
    """Resolve (once per class) the encoder of a subclass of a supported type, e.g. an Enum."""
    try:
        return _RESOLVED_SUBCLASSES[cls]
    except KeyError:
        pass
    encoder: _UntypedEncoder | None = None
    if issubclass(cls, enum.Enum):
        encoder = _untyped_enum
    else:
        encoder = next((_UNTYPED_ENCODERS[b] for b in cls.__mro__ if b in _UNTYPED_ENCODERS), None)
    if len(_RESOLVED_SUBCLASSES) < 1024:
        _RESOLVED_SUBCLASSES[cls] = encoder
    return encoder


def _encode_untyped(value: Any, name: str) -> Literal:
    encoder = _UNTYPED_ENCODERS.get(type(value)) or _untyped_encoder_for(type(value))
    if encoder is None:
        raise LiteralConversionError(
            f"{name}: no Flyte literal for {describe_value(value)} without a declared type"
        )
    try:
        return encoder(value, name)
    except _CONVERSION_ERRORS as exc:
        raise LiteralConversionError(
            f"{name}: cannot encode {describe_value(value)}: {exc}"
        ) from exc
