"""literal_type_for / variable_map: the LiteralTypes flytekit declares for Python annotations."""

# typing.Optional/Union/List/Dict spellings are under test (flytekit sees them as distinct).
# ruff: noqa: UP006, UP007, UP045

from __future__ import annotations

import datetime
import enum
import typing
from typing import Annotated, Any, Optional, Union

import pytest
from flyteidl.core.types_pb2 import BlobType, LiteralType, SimpleType
from google.protobuf import text_format

from agenthost.literals import (
    Blob,
    BlobSpec,
    Directory,
    StructuredDataset,
    blob_type,
    describe_type,
    literal_type_for,
    variable_map,
)


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Number(enum.Enum):
    ONE = 1


def text(lt: LiteralType) -> str:
    return text_format.MessageToString(lt, as_one_line=True)


MSGPACK_STRUCT = (
    'simple: STRUCT annotation { annotations { fields { key: "cache-key-metadata" value { '
    'struct_value { fields { key: "serialization-format" value { string_value: "msgpack" } } } '
    "} } } }"
)


@pytest.mark.parametrize(
    ("python_type", "expected"),
    [
        (int, "simple: INTEGER"),
        (float, "simple: FLOAT"),
        (str, "simple: STRING"),
        (bool, "simple: BOOLEAN"),
        (datetime.datetime, "simple: DATETIME"),
        (datetime.date, "simple: DATETIME"),
        (datetime.timedelta, "simple: DURATION"),
        (type(None), "simple: NONE"),
        (None, "simple: NONE"),
        (bytes, "simple: BINARY"),
        (list[int], "collection_type { simple: INTEGER }"),
        (typing.List[str], "collection_type { simple: STRING }"),
        (list[list[float]], "collection_type { collection_type { simple: FLOAT } }"),
        (dict[str, int], "map_value_type { simple: INTEGER }"),
        (typing.Dict[str, bool], "map_value_type { simple: BOOLEAN }"),
        (dict, MSGPACK_STRUCT),
        (typing.Dict, MSGPACK_STRUCT),
        (dict[int, str], MSGPACK_STRUCT),
        (Color, 'enum_type { values: "red" values: "green" }'),
        (StructuredDataset, "structured_dataset_type { }"),
        (Annotated[StructuredDataset, "parquet"], 'structured_dataset_type { format: "parquet" }'),
        (Blob, "blob { }"),
        (Annotated[Blob, "csv"], 'blob { format: "csv" }'),
        (Directory, "blob { dimensionality: MULTIPART }"),
        (
            Annotated[Blob, BlobSpec("csv", multipart=True)],
            'blob { format: "csv" dimensionality: MULTIPART }',
        ),
    ],
)
def test_literal_type_for(python_type: Any, expected: str) -> None:
    assert text(literal_type_for(python_type)) == expected


@pytest.mark.parametrize(
    ("python_type", "tags"),
    [
        (Optional[int], ["int", "none"]),
        (int | None, ["int", "none"]),
        (Union[None, int], ["none", "int"]),
        (Union[int, str, None], ["int", "str", "none"]),
        (Optional[float], ["float", "none"]),
        (Optional[bool], ["bool", "none"]),
        (Optional[datetime.datetime], ["datetime", "none"]),
        (Optional[datetime.date], ["date", "none"]),
        (Optional[datetime.timedelta], ["timedelta", "none"]),
        (Optional[list[int]], ["Typed List", "none"]),
        (Optional[dict[str, int]], ["Typed Dict", "none"]),
        (Optional[dict], ["Typed Dict", "none"]),
        (Optional[Color], ["DefaultEnumTransformer", "none"]),
        (Optional[StructuredDataset], ["StructuredDataset Transformer", "none"]),
        (Optional[Blob], ["FlyteFilePath", "none"]),
        (Optional[Directory], ["FlyteDirectory", "none"]),
    ],
)
def test_union_variants_carry_flytekit_transformer_tags(python_type: Any, tags: list[str]) -> None:
    lt = literal_type_for(python_type)
    assert [v.structure.tag for v in lt.union_type.variants] == tags


def test_union_variant_keeps_its_type_beside_the_tag() -> None:
    lt = literal_type_for(Optional[dict])
    struct = lt.union_type.variants[0]
    assert struct.simple == SimpleType.STRUCT
    assert struct.annotation == literal_type_for(dict).annotation


def test_nested_unions_are_not_tagged_inside_collections() -> None:
    lt = literal_type_for(list[Optional[int]])
    assert not lt.HasField("structure")
    assert [v.structure.tag for v in lt.collection_type.union_type.variants] == ["int", "none"]


def test_variant_order_is_kept_although_typing_says_the_unions_are_equal() -> None:
    assert Union[None, int] == Optional[int]
    first = literal_type_for(Optional[int]).union_type.variants[0].simple
    second = literal_type_for(Union[None, int]).union_type.variants[0].simple
    assert (first, second) == (SimpleType.INTEGER, SimpleType.NONE)


def test_annotated_literal_type_is_used_outright() -> None:
    declared = blob_type("jpeg", multipart=True)
    lt = literal_type_for(Annotated[Blob, declared])
    assert lt == declared
    assert lt.blob.dimensionality == BlobType.MULTIPART


def test_results_are_copies_safe_to_modify() -> None:
    first = literal_type_for(list[int])
    first.collection_type.simple = SimpleType.STRING
    assert literal_type_for(list[int]).collection_type.simple == SimpleType.INTEGER


@pytest.mark.parametrize(
    "python_type", [list, typing.List, typing.Any, tuple[int, int], object, Number, set[int]]
)
def test_unsupported_annotations_raise_type_error(python_type: Any) -> None:
    with pytest.raises(TypeError, match="unsupported"):
        literal_type_for(python_type)


def test_variable_map_uses_name_as_description() -> None:
    vm = variable_map({"a": int, "b": Optional[str]})
    assert set(vm.variables) == {"a", "b"}
    assert vm.variables["a"].description == "a"
    assert vm.variables["a"].type == literal_type_for(int)
    assert vm.variables["b"].type == literal_type_for(Optional[str])


@pytest.mark.parametrize(
    ("python_type", "name"),
    [
        (int, "integer"),
        (list[dict[str, float]], "list[dict[str, float]]"),
        (Optional[int], "union[integer, none]"),
        (Color, "enum{'red', 'green'}"),
        (Annotated[Blob, "csv"], "file (csv)"),
        (Directory, "directory"),
        (Annotated[StructuredDataset, "parquet"], "structured dataset (parquet)"),
        (dict, "struct"),
    ],
)
def test_describe_type(python_type: Any, name: str) -> None:
    assert describe_type(literal_type_for(python_type)) == name
