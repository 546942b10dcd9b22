"""Builders of flyteidl ``LiteralType`` messages, from parts or from Python type annotations.

``literal_type_for`` declares types exactly as flytekit's TypeEngine (1.16) does, including the
``structure.tag`` flytekit puts on each union variant (the name of the flytekit transformer that
handles the variant), so interfaces built here match those flytekit registers.
"""

from __future__ import annotations

import datetime
import enum
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Union, get_args, get_origin

from flyteidl.core.interface_pb2 import Variable, VariableMap
from flyteidl.core.types_pb2 import (
    BlobType,
    EnumType,
    LiteralType,
    SimpleType,
    StructuredDatasetType,
    TypeStructure,
    UnionType,
)

from agenthost.literals.errors import LiteralConversionError
from agenthost.literals.values import Blob, BlobSpec, StructuredDataset

__all__ = [
    "blob_type",
    "check_names",
    "collection_type",
    "describe_type",
    "enum_type",
    "literal_type_for",
    "map_type",
    "missing_and_undeclared",
    "simple_type",
    "struct_type",
    "structured_dataset_type",
    "union_type",
    "variable_map",
    "variable_types",
]

_SIMPLE_NAMES: dict[int, str] = {
    SimpleType.NONE: "none",
    SimpleType.INTEGER: "integer",
    SimpleType.FLOAT: "float",
    SimpleType.STRING: "string",
    SimpleType.BOOLEAN: "boolean",
    SimpleType.DATETIME: "datetime",
    SimpleType.DURATION: "duration",
    SimpleType.BINARY: "binary",
    SimpleType.ERROR: "error",
    SimpleType.STRUCT: "struct",
}

# Python type -> (simple type, flytekit transformer name used as the union variant tag).
# bytes has no flytekit transformer (flytekit pickles it); it is ours, declared as BINARY.
_SIMPLE_PYTHON: dict[Any, tuple[SimpleType, str]] = {
    int: (SimpleType.INTEGER, "int"),
    float: (SimpleType.FLOAT, "float"),
    str: (SimpleType.STRING, "str"),
    bool: (SimpleType.BOOLEAN, "bool"),
    datetime.datetime: (SimpleType.DATETIME, "datetime"),
    datetime.date: (SimpleType.DATETIME, "date"),
    datetime.timedelta: (SimpleType.DURATION, "timedelta"),
    type(None): (SimpleType.NONE, "none"),
    None: (SimpleType.NONE, "none"),
    bytes: (SimpleType.BINARY, "bytes"),
}

_TAG_LIST = "Typed List"
_TAG_DICT = "Typed Dict"
_TAG_UNION = "Typed Union"
_TAG_ENUM = "DefaultEnumTransformer"
_TAG_DATASET = "StructuredDataset Transformer"
_TAG_FILE = "FlyteFilePath"
_TAG_DIRECTORY = "FlyteDirectory"

MSGPACK_TAG = "msgpack"
"""``Binary.tag`` of msgpack-encoded values; also the serialization format of STRUCT types."""


def simple_type(simple: SimpleType) -> LiteralType:
    """Return a LiteralType of one ``SimpleType`` (``SimpleType.INTEGER``, ...)."""
    return LiteralType(simple=simple)


def struct_type() -> LiteralType:
    """Return the STRUCT type flytekit (1.14+) declares for untyped dicts: msgpack-serialized."""
    lt = LiteralType(simple=SimpleType.STRUCT)
    lt.annotation.annotations.update({"cache-key-metadata": {"serialization-format": MSGPACK_TAG}})
    return lt


def collection_type(element: LiteralType) -> LiteralType:
    """Return the type of a list whose elements are of type ``element``."""
    return LiteralType(collection_type=element)


def map_type(value: LiteralType) -> LiteralType:
    """Return the type of a dict with str keys and values of type ``value``."""
    return LiteralType(map_value_type=value)


def union_type(*variants: LiteralType) -> LiteralType:
    """Return a union of ``variants``, used as given (tags included if the variants carry them)."""
    return LiteralType(union_type=UnionType(variants=variants))


def enum_type(values: Iterable[str]) -> LiteralType:
    """Return an enum type whose allowed values are ``values`` (strings, in order)."""
    return LiteralType(enum_type=EnumType(values=list(values)))


def blob_type(format: str = "", *, multipart: bool = False) -> LiteralType:
    """Return the type of a file (or, with ``multipart=True``, a directory) of blob ``format``."""
    dimensionality = BlobType.MULTIPART if multipart else BlobType.SINGLE
    return LiteralType(blob=BlobType(format=format, dimensionality=dimensionality))


def structured_dataset_type(format: str = "") -> LiteralType:
    """Return the type of a structured dataset stored in ``format`` (``""``: any format)."""
    return LiteralType(structured_dataset_type=StructuredDatasetType(format=format))


def literal_type_for(python_type: Any) -> LiteralType:
    """Build the LiteralType flytekit declares for a Python type annotation.

    Supported: ``int``, ``float``, ``str``, ``bool``, ``datetime``, ``date``, ``timedelta``,
    ``None``, ``bytes`` (BINARY; flytekit would pickle), ``list[T]``, ``dict[str, T]`` (a map),
    other dicts (STRUCT, msgpack), ``Optional``/``Union``/``X | Y``, ``enum.Enum`` subclasses with
    string values, :class:`StructuredDataset`, :class:`Blob` (a file) and ``Directory``.
    ``Annotated[T, "fmt"]`` sets the format of a dataset or blob, ``Annotated[Blob, BlobSpec(...)]``
    the blob type, and ``Annotated[T, some_literal_type]`` declares ``some_literal_type`` outright.
    Raises ``TypeError`` for anything else (bare ``list``, ``Any``, tuples...).

    Results are cached; each call returns a fresh copy that the caller may modify.
    """
    key = _cache_key(python_type)
    try:
        built = _CACHE[key][0]
    except KeyError:
        built = _remember(key, _build(python_type))[0]
    except TypeError:  # unhashable annotation metadata: build without caching
        built = _build(python_type)[0]
    out = LiteralType()
    out.CopyFrom(built)
    return out


def variable_map(types: Mapping[str, Any]) -> VariableMap:
    """Build an interface ``VariableMap`` from Python type annotations, keyed by variable name.

    As in flytekit, each variable's description is its name.
    """
    return VariableMap(
        variables={
            name: Variable(type=literal_type_for(tp), description=name)
            for name, tp in types.items()
        }
    )


def describe_type(literal_type: LiteralType | None) -> str:
    """Return a short human name for a LiteralType, e.g. ``list[integer]``, for messages."""
    if literal_type is None:
        return "untyped"
    kind = literal_type.WhichOneof("type")
    if kind == "simple":
        return _SIMPLE_NAMES.get(literal_type.simple, "simple")
    if kind == "collection_type":
        return f"list[{describe_type(literal_type.collection_type)}]"
    if kind == "map_value_type":
        return f"dict[str, {describe_type(literal_type.map_value_type)}]"
    if kind == "union_type":
        inner = ", ".join(describe_type(v) for v in literal_type.union_type.variants)
        return f"union[{inner}]"
    if kind == "enum_type":
        values = list(literal_type.enum_type.values)
        shown = ", ".join(repr(v) for v in values[:4]) + (", ..." if len(values) > 4 else "")
        return f"enum{{{shown}}}"
    if kind == "blob":
        blob = literal_type.blob
        name = "directory" if blob.dimensionality == BlobType.MULTIPART else "file"
        return f"{name} ({blob.format})" if blob.format else name
    if kind == "structured_dataset_type":
        fmt = literal_type.structured_dataset_type.format
        return f"structured dataset ({fmt})" if fmt else "structured dataset"
    if kind == "schema":
        return "schema"
    return "untyped"


_CACHE: dict[Any, tuple[LiteralType, str]] = {}


def _cache_key(tp: Any) -> Any:
    """A key that, unlike ``==`` on typing objects, tells ``Union[None, int]`` from
    ``Optional[int]``: flytekit keeps the variant order, so the key must too."""
    args = get_args(tp)
    if not args:
        return tp
    return get_origin(tp), tuple(_cache_key(arg) for arg in args)


def _remember(key: Any, built: tuple[LiteralType, str]) -> tuple[LiteralType, str]:
    if len(_CACHE) >= 4096:
        _CACHE.clear()
    _CACHE[key] = built
    return built


def _tagged(built: tuple[LiteralType, str]) -> LiteralType:
    lt = LiteralType()
    lt.CopyFrom(built[0])
    lt.structure.CopyFrom(TypeStructure(tag=built[1]))
    return lt


def _build(tp: Any) -> tuple[LiteralType, str]:
    """Return the LiteralType of ``tp`` and the tag flytekit gives it as a union variant."""
    origin = get_origin(tp)
    if origin is Annotated:
        base, *metadata = get_args(tp)
        return _build_annotated(base, metadata)
    simple = _SIMPLE_PYTHON.get(tp) if _hashable(tp) else None
    if simple is not None:
        return LiteralType(simple=simple[0]), simple[1]
    if origin is Union or origin is types.UnionType:
        return union_type(*(_tagged(_build(arg)) for arg in get_args(tp))), _TAG_UNION
    if origin is list or tp is list:
        return _build_list(tp)
    if origin is dict or tp is dict:
        return _build_dict(tp)
    return _build_class(tp)


def _build_list(tp: Any) -> tuple[LiteralType, str]:
    args = get_args(tp)
    if len(args) != 1:
        raise TypeError(f"unsupported type {tp!r}: a list needs one element type, e.g. list[int]")
    return collection_type(_build(args[0])[0]), _TAG_LIST


def _build_dict(tp: Any) -> tuple[LiteralType, str]:
    args = get_args(tp)
    if args and args[0] is str:
        return map_type(_build(args[1])[0]), _TAG_DICT
    return struct_type(), _TAG_DICT


def _build_class(tp: Any) -> tuple[LiteralType, str]:
    """A plain class: an enum, a structured dataset or a file/directory."""
    if isinstance(tp, type):
        if issubclass(tp, enum.Enum):
            return _enum_literal_type(tp), _TAG_ENUM
        if issubclass(tp, StructuredDataset):
            return structured_dataset_type(), _TAG_DATASET
        if issubclass(tp, Blob):
            return blob_type(), _TAG_FILE
    raise TypeError(f"unsupported type {tp!r} for a Flyte literal")


def _build_annotated(base: Any, metadata: list[Any]) -> tuple[LiteralType, str]:
    lt, tag = _build(base)
    for item in metadata:
        if isinstance(item, LiteralType):
            lt = LiteralType()
            lt.CopyFrom(item)
            if item.HasField("blob"):
                multipart = item.blob.dimensionality == BlobType.MULTIPART
                tag = _TAG_DIRECTORY if multipart else _TAG_FILE
        elif isinstance(item, BlobSpec) and lt.HasField("blob"):
            lt = blob_type(item.format, multipart=item.multipart)
            tag = _TAG_DIRECTORY if item.multipart else _TAG_FILE
        elif isinstance(item, str) and lt.HasField("structured_dataset_type"):
            lt.structured_dataset_type.format = item
        elif isinstance(item, str) and lt.HasField("blob"):
            lt.blob.format = item
    return lt, tag


def _enum_literal_type(cls: type[enum.Enum]) -> LiteralType:
    values = [member.value for member in cls]
    if not all(isinstance(v, str) for v in values):
        raise TypeError(f"unsupported enum {cls.__name__}: Flyte enums need string values")
    return enum_type(typing.cast("list[str]", values))


def _hashable(tp: Any) -> bool:
    try:
        hash(tp)
    except TypeError:
        return False
    return True


def variable_types(
    variables: VariableMap | Mapping[str, LiteralType] | Mapping[str, Variable],
) -> dict[str, LiteralType]:
    """Return ``{name: LiteralType}`` for an interface ``VariableMap`` or a mapping of types."""
    if isinstance(variables, VariableMap):
        return {name: var.type for name, var in variables.variables.items()}
    return {name: tp.type if isinstance(tp, Variable) else tp for name, tp in variables.items()}


def missing_and_undeclared(
    given: Iterable[str], declared: Mapping[str, Any]
) -> tuple[list[str], list[str]]:
    """The interface-name check: the names ``declared`` that ``given`` lacks, and the names
    ``given`` that are not ``declared``, each in its own order."""
    given = list(given)
    present = set(given)
    return [n for n in declared if n not in present], [n for n in given if n not in declared]


def check_names(given: Iterable[str], declared: Mapping[str, LiteralType], kind: str) -> None:
    """``LiteralConversionError`` naming the first name ``declared`` that ``given`` lacks
    (with its type), else the first name ``given`` that is not ``declared``; ``kind``
    ("input", "output") prefixes the name."""
    missing, undeclared = missing_and_undeclared(given, declared)
    if missing:
        name = missing[0]
        raise LiteralConversionError(
            f"{kind} {name!r}: missing, declared as {describe_type(declared[name])}"
        )
    if undeclared:
        raise LiteralConversionError(f"{kind} {undeclared[0]!r}: not declared in the interface")
