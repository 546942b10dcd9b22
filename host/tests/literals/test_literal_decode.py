"""from_literal / literal_map_to_python: decoding typed and untyped literals."""

# typing.Optional/Union spellings are under test here (flytekit sees them as distinct types).
# ruff: noqa: UP007, UP045

from __future__ import annotations

import datetime
import enum
from typing import Annotated, Any, Optional, Union

import msgpack
import pytest
from flyteidl.core.literals_pb2 import (
    Binary,
    Literal,
    LiteralMap,
    LiteralOffloadedMetadata,
    Primitive,
    Scalar,
)
from flyteidl.core.types_pb2 import LiteralType, SimpleType
from google.protobuf import struct_pb2

from agenthost.literals import (
    Blob,
    Directory,
    LiteralConversionError,
    StructuredDataset,
    from_literal,
    literal_map_to_python,
    literal_type_for,
    to_literal,
    variable_map,
)
from agenthost.literals.decode import describe_literal

UTC = datetime.timezone.utc


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


def msgpack_literal(value: Any) -> Literal:
    return Literal(
        scalar=Scalar(binary=Binary(value=msgpack.packb(value, use_bin_type=True), tag="msgpack"))
    )


def primitive(**field: Any) -> Literal:
    return Literal(scalar=Scalar(primitive=Primitive(**field)))


def test_datetime_decodes_aware_utc() -> None:
    aware = datetime.datetime(
        2024, 1, 2, 3, 4, 5, 6, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
    )
    lit = to_literal(aware, literal_type_for(datetime.datetime))
    for decoded in (from_literal(lit, literal_type_for(datetime.datetime)), from_literal(lit)):
        assert decoded == aware
        assert decoded.tzinfo is UTC


def test_generic_struct_decodes_to_dict() -> None:
    struct = struct_pb2.Struct()
    struct.update({"a": 1, "b": [True, None], "c": {"d": "x"}})
    lit = Literal(scalar=Scalar(generic=struct))
    expected = {"a": 1.0, "b": [True, None], "c": {"d": "x"}}
    assert from_literal(lit) == expected
    assert from_literal(lit, literal_type_for(dict)) == expected


def test_msgpack_struct_with_int_keys() -> None:
    lit = to_literal({1: "a"}, literal_type_for(dict[int, str]))
    assert from_literal(lit, literal_type_for(dict)) == {1: "a"}
    assert from_literal(lit) == {1: "a"}


@pytest.mark.parametrize(
    ("value", "python_type", "expected"),
    [
        (3, int, 3),
        (3, float, 3.0),
        (3.0, int, 3),
        ("s", str, "s"),
        (True, bool, True),
        (None, type(None), None),
        (
            "2024-01-02T03:04:05",
            datetime.datetime,
            datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        ),
        (1.5, datetime.timedelta, datetime.timedelta(seconds=1.5)),
        ([1, 2], list[int], [1, 2]),
        ({"a": [1.5]}, dict[str, list[float]], {"a": [1.5]}),
        ("red", Color, "red"),
        (None, Optional[int], None),
        (4, Optional[int], 4),
        (
            {"uri": "s3://d", "file_format": "csv"},
            StructuredDataset,
            StructuredDataset("s3://d", "csv"),
        ),
        ({"path": "s3://f"}, Annotated[Blob, "csv"], Blob("s3://f", "csv")),
        ({"path": "s3://d"}, Directory, Blob("s3://d", multipart=True)),
    ],
)
def test_msgpack_attribute_access_values_decode_against_declared_type(
    value: Any, python_type: Any, expected: Any
) -> None:
    # Propeller resolves ``dc.field`` promises into msgpack binary literals.
    assert from_literal(msgpack_literal(value), literal_type_for(python_type)) == expected


@pytest.mark.parametrize(
    ("value", "python_type", "message"),
    [
        ("3", int, "input 'x': expected integer, got str '3'"),
        (3.5, int, "input 'x': expected integer, got float 3.5"),
        (True, int, "input 'x': expected integer, got bool True"),
        ("blue", Color, "input 'x': expected enum{'red', 'green'}, got str 'blue'"),
        ([1, "a"], list[int], "input 'x'[1]: expected integer, got str 'a'"),
        ("x", Optional[int], "input 'x': expected union[integer, none], got str 'x'"),
    ],
)
def test_msgpack_values_are_checked(value: Any, python_type: Any, message: str) -> None:
    with pytest.raises(LiteralConversionError) as info:
        from_literal(msgpack_literal(value), literal_type_for(python_type), name="input 'x'")
    assert str(info.value) == message


def test_malformed_msgpack_raises() -> None:
    lit = Literal(scalar=Scalar(binary=Binary(value=b"\xc1", tag="msgpack")))
    with pytest.raises(LiteralConversionError, match=r"^value: malformed msgpack"):
        from_literal(lit)


def test_integral_float_literal_reads_as_int_but_fractional_does_not() -> None:
    assert from_literal(primitive(float_value=2.0), literal_type_for(int)) == 2
    with pytest.raises(LiteralConversionError, match=r"expected integer, got float 2.5"):
        from_literal(primitive(float_value=2.5), literal_type_for(int))


@pytest.mark.parametrize(
    ("literal", "python_type", "message"),
    [
        (
            primitive(string_value="abc"),
            int,
            "input 'x': expected integer, got string literal 'abc'",
        ),
        (primitive(integer=1), str, "input 'x': expected string, got integer literal 1"),
        (primitive(integer=1), bool, "input 'x': expected boolean, got integer literal 1"),
        (
            primitive(integer=1),
            datetime.datetime,
            "input 'x': expected datetime, got integer literal 1",
        ),
        (primitive(integer=1), type(None), "input 'x': expected none, got integer literal 1"),
        (
            Literal(scalar=Scalar(binary=Binary(value=b"x"))),
            dict,
            "input 'x': expected struct, got binary literal",
        ),
        (
            primitive(integer=1),
            list[int],
            "input 'x': expected list[integer], got integer literal 1",
        ),
        (
            primitive(integer=1),
            dict[str, int],
            "input 'x': expected dict[str, integer], got integer literal 1",
        ),
        (
            primitive(string_value="blue"),
            Color,
            "input 'x': expected enum{'red', 'green'}, got str 'blue'",
        ),
        (
            primitive(integer=1),
            StructuredDataset,
            "input 'x': expected structured dataset, got integer literal 1",
        ),
        (to_literal(Blob("s3://f")), Directory, "input 'x': expected directory, got file literal"),
        (
            primitive(boolean=True),
            Optional[int],
            "input 'x': expected union[integer, none], got boolean literal True",
        ),
        (Literal(), int, "input 'x': expected integer, got empty literal"),
    ],
)
def test_typed_mismatch_names_variable_and_both_types(
    literal: Literal, python_type: Any, message: str
) -> None:
    with pytest.raises(LiteralConversionError) as info:
        from_literal(literal, literal_type_for(python_type), name="input 'x'")
    assert str(info.value) == message


def test_union_literal_of_undeclared_variant_is_rejected() -> None:
    lit = to_literal("s", literal_type_for(Optional[str]))
    with pytest.raises(LiteralConversionError, match="got union literal of string"):
        from_literal(lit, literal_type_for(Optional[int]))


def test_union_literal_matches_untagged_declaration() -> None:
    lit = to_literal(5, literal_type_for(Optional[int]))
    untagged = LiteralType()
    untagged.union_type.variants.add(simple=SimpleType.INTEGER)
    untagged.union_type.variants.add(simple=SimpleType.NONE)
    assert from_literal(lit, untagged) == 5


@pytest.mark.parametrize(
    ("literal", "python_type", "expected"),
    [
        (primitive(integer=3), Optional[int], 3),
        (primitive(integer=3), Union[float, int], 3),
        (primitive(float_value=3.0), Union[int, float], 3.0),
        (primitive(integer=3), Optional[float], 3.0),
        (Literal(scalar=Scalar(none_type={})), Optional[int], None),
    ],
)
def test_bare_literal_against_union_prefers_exact_kind(
    literal: Literal, python_type: Any, expected: Any
) -> None:
    decoded = from_literal(literal, literal_type_for(python_type))
    assert decoded == expected
    assert type(decoded) is type(expected)


def test_dataset_and_blob_formats_fall_back_to_declared_format() -> None:
    sd = to_literal(StructuredDataset("s3://d"))
    assert from_literal(sd, literal_type_for(Annotated[StructuredDataset, "parquet"])) == (
        StructuredDataset("s3://d", "parquet")
    )
    blob = to_literal(Blob("s3://f"))
    assert from_literal(blob, literal_type_for(Annotated[Blob, "csv"])) == Blob("s3://f", "csv")


@pytest.mark.parametrize(
    "literal",
    [
        Literal(offloaded_metadata=LiteralOffloadedMetadata(uri="s3://off")),
        Literal(),
        Literal(scalar=Scalar(primitive=Primitive())),
        Literal(scalar=Scalar()),
    ],
)
def test_undecodable_literals_raise(literal: Literal) -> None:
    with pytest.raises(LiteralConversionError, match=r"^input 'z': "):
        from_literal(literal, name="input 'z'")


def test_literal_map_to_python_checks_against_variables() -> None:
    inputs = variable_map({"a": int, "b": Optional[list[str]]})
    lm = LiteralMap(
        literals={"a": to_literal(1), "b": to_literal(["x"], inputs.variables["b"].type)}
    )
    assert literal_map_to_python(lm, inputs) == {"a": 1, "b": ["x"]}
    assert literal_map_to_python(lm) == {"a": 1, "b": ["x"]}


@pytest.mark.parametrize(
    ("literals", "message"),
    [
        ({"a": 1}, r"^input 'b': missing, declared as list\[string\]$"),
        ({"a": 1, "b": [], "c": 0}, "^input 'c': not declared in the interface$"),
        ({"a": "1", "b": []}, "^input 'a': expected integer, got string literal '1'$"),
        ({"a": 1, "b": [2]}, r"^input 'b'\[0\]: expected string, got integer literal 2$"),
    ],
)
def test_literal_map_to_python_errors(literals: dict[str, Any], message: str) -> None:
    lm = LiteralMap(literals={k: to_literal(v) for k, v in literals.items()})
    with pytest.raises(LiteralConversionError, match=message):
        literal_map_to_python(lm, {"a": literal_type_for(int), "b": literal_type_for(list[str])})


def test_literal_map_to_python_kind_prefixes_messages() -> None:
    lm = LiteralMap(literals={"o": to_literal("x")})
    with pytest.raises(LiteralConversionError, match=r"^output 'o': "):
        literal_map_to_python(lm, variable_map({"o": int}), kind="output")


@pytest.mark.parametrize(
    ("literal", "python_type", "message"),
    [
        (
            primitive(datetime={"seconds": 10**12}),
            datetime.datetime,
            "input 'x': primitive literal out of range: ",
        ),
        (
            msgpack_literal(1e300),
            datetime.timedelta,
            "input 'x': cannot decode a binary literal (tag 'msgpack') as duration: ",
        ),
    ],
)
def test_out_of_range_literals_raise(literal: Literal, python_type: Any, message: str) -> None:
    for literal_type in (literal_type_for(python_type), None):
        if literal_type is None and literal.scalar.binary.tag:
            continue  # untyped msgpack is just a float
        with pytest.raises(LiteralConversionError) as info:
            from_literal(literal, literal_type, name="input 'x'")
        assert str(info.value).startswith(message)


def test_out_of_range_literal_of_the_wrong_kind_is_described_safely() -> None:
    with pytest.raises(LiteralConversionError) as info:
        from_literal(primitive(datetime={"seconds": 10**12}), literal_type_for(int), name="n")
    assert str(info.value) == "n: expected integer, got out-of-range datetime literal"


def _scalar(**fields: Any) -> Literal:
    return Literal(scalar=Scalar(**fields))


@pytest.mark.parametrize(
    ("literal", "described"),
    [
        (Literal(), "empty literal"),
        (Literal(map=LiteralMap()), "map literal"),
        (Literal(offloaded_metadata=LiteralOffloadedMetadata()), "offloaded literal"),
        (_scalar(primitive=Primitive()), "empty primitive literal"),
        (_scalar(primitive=Primitive(integer=3)), "integer literal 3"),
        (_scalar(binary=Binary(value=b"x")), "binary literal"),
        (_scalar(binary=Binary(value=b"x", tag="msgpack")), "binary literal (tag 'msgpack')"),
        (to_literal(Blob("s3://b/d", multipart=True)), "directory literal"),
        (to_literal(Blob("s3://b/f")), "file literal"),
        (_scalar(generic=struct_pb2.Struct()), "generic struct literal"),
        (_scalar(), "empty literal"),
    ],
)
def test_describe_literal_names_each_kind(literal: Literal, described: str) -> None:
    assert describe_literal(literal) == described
