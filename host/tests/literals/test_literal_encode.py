"""to_literal / to_literal_map: encoding against declared types and from Python values alone."""

# typing.Optional/Union spellings are under test here (flytekit sees them as distinct types).
# ruff: noqa: UP007, UP045

from __future__ import annotations

import datetime
import enum
from typing import Annotated, Any, Optional, Union

import msgpack
import pytest
from flyteidl.admin import agent_pb2
from flyteidl.core.literals_pb2 import Literal
from flyteidl.core.types_pb2 import BlobType, LiteralType, SimpleType
from google.protobuf import text_format

from agenthost.errors import InvalidRequestError
from agenthost.literals import (
    Blob,
    Directory,
    LiteralConversionError,
    StructuredDataset,
    literal_type_for,
    to_literal,
    to_literal_map,
    variable_map,
)

UTC = datetime.timezone.utc


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(str, enum.Enum):
    LOW = "low"


def text(lit: Literal) -> str:
    return text_format.MessageToString(lit, as_one_line=True)


def encode(value: Any, python_type: Any) -> str:
    return text(to_literal(value, literal_type_for(python_type)))


def test_error_is_an_invalid_request() -> None:
    assert issubclass(LiteralConversionError, InvalidRequestError)


@pytest.mark.parametrize(
    ("value", "python_type", "expected"),
    [
        (1, int, "scalar { primitive { integer: 1 } }"),
        (1.5, float, "scalar { primitive { float_value: 1.5 } }"),
        (2, float, "scalar { primitive { float_value: 2.0 } }"),
        ("a", str, 'scalar { primitive { string_value: "a" } }'),
        (Level.LOW, str, 'scalar { primitive { string_value: "low" } }'),
        (True, bool, "scalar { primitive { boolean: true } }"),
        (None, type(None), "scalar { none_type { } }"),
        (b"\x00x", bytes, 'scalar { binary { value: "\\000x" } }'),
        (
            datetime.timedelta(days=1, microseconds=3),
            datetime.timedelta,
            "scalar { primitive { duration { seconds: 86400 nanos: 3000 } } }",
        ),
        (
            datetime.timedelta(microseconds=-3),
            datetime.timedelta,
            "scalar { primitive { duration { nanos: -3000 } } }",
        ),
        (
            [1, 2],
            list[int],
            "collection { literals { scalar { primitive { integer: 1 } } } "
            "literals { scalar { primitive { integer: 2 } } } }",
        ),
        ((1,), list[int], "collection { literals { scalar { primitive { integer: 1 } } } }"),
        (
            {"a": 1},
            dict[str, int],
            'map { literals { key: "a" value { scalar { primitive { integer: 1 } } } } }',
        ),
        (Color.RED, Color, 'scalar { primitive { string_value: "red" } }'),
        ("green", Color, 'scalar { primitive { string_value: "green" } }'),
        (
            StructuredDataset("s3://b/x", "csv"),
            StructuredDataset,
            'scalar { structured_dataset { uri: "s3://b/x" metadata { structured_dataset_type '
            '{ format: "csv" } } } }',
        ),
        (
            StructuredDataset("s3://b/x", "csv"),
            Annotated[StructuredDataset, "parquet"],
            'scalar { structured_dataset { uri: "s3://b/x" metadata { structured_dataset_type '
            '{ format: "parquet" } } } }',
        ),
        (Blob("s3://b/f"), Blob, 'scalar { blob { metadata { type { } } uri: "s3://b/f" } }'),
        (
            "s3://b/f",
            Annotated[Blob, "csv"],
            'scalar { blob { metadata { type { format: "csv" } } uri: "s3://b/f" } }',
        ),
        (
            Blob("s3://b/d", multipart=True),
            Directory,
            'scalar { blob { metadata { type { dimensionality: MULTIPART } } uri: "s3://b/d" } }',
        ),
    ],
)
def test_encode_with_declared_type(value: Any, python_type: Any, expected: str) -> None:
    assert encode(value, python_type) == expected


def test_naive_datetime_is_utc_and_aware_is_converted() -> None:
    naive = datetime.datetime(2024, 1, 2, 3, 4, 5, 6)
    aware = naive.replace(tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    assert encode(naive, datetime.datetime) == (
        "scalar { primitive { datetime { seconds: 1704164645 nanos: 6000 } } }"
    )
    assert encode(aware, datetime.datetime) == (
        "scalar { primitive { datetime { seconds: 1704157445 nanos: 6000 } } }"
    )
    assert encode(datetime.date(2024, 1, 2), datetime.date) == (
        "scalar { primitive { datetime { seconds: 1704153600 } } }"
    )


def test_untyped_dict_is_msgpack_struct() -> None:
    value = {"a": 1, "b": [1.5, None], "c": b"x"}
    lit = to_literal(value, literal_type_for(dict))
    assert lit.scalar.binary.tag == "msgpack"
    assert lit.scalar.binary.value == msgpack.packb(value, use_bin_type=True)


@pytest.mark.parametrize(
    ("value", "python_type", "tag"),
    [
        (3, Optional[int], "int"),
        (None, Optional[int], "none"),
        (3, Union[int, float], "int"),
        (3.0, Union[int, float], "float"),
        (True, Union[int, bool], "bool"),
        ("red", Union[str, Color], "str"),
        (Color.RED, Union[str, Color], "DefaultEnumTransformer"),
        ("red", Optional[Color], "DefaultEnumTransformer"),
        ({"a": 1}, Union[list[int], dict[str, int]], "Typed Dict"),
    ],
)
def test_union_picks_the_variant_flytekit_picks(value: Any, python_type: Any, tag: str) -> None:
    lt = literal_type_for(python_type)
    lit = to_literal(value, lt)
    assert lit.scalar.union.type.structure.tag == tag
    assert lit.scalar.union.type in list(lt.union_type.variants)


@pytest.mark.parametrize(
    ("value", "python_type", "tag"),
    [(2, Optional[float], "float"), ("s3://f", Optional[Blob], "FlyteFilePath")],
)
def test_union_falls_back_to_lenient_matching(value: Any, python_type: Any, tag: str) -> None:
    # flytekit raises for these (no variant has the value's exact type); agenthost widens.
    lit = to_literal(value, literal_type_for(python_type))
    assert lit.scalar.union.type.structure.tag == tag


@pytest.mark.parametrize(
    ("value", "python_type", "message"),
    [
        ("abc", int, "input 'x': expected integer, got str 'abc'"),
        (True, int, "input 'x': expected integer, got bool True"),
        (1.0, int, "input 'x': expected integer, got float 1.0"),
        (None, int, "input 'x': expected integer, got None"),
        (1, bool, "input 'x': expected boolean, got int 1"),
        (1, str, "input 'x': expected string, got int 1"),
        ("2024-01-01", datetime.datetime, "input 'x': expected datetime, got str '2024-01-01'"),
        (1, datetime.timedelta, "input 'x': expected duration, got int 1"),
        (0, type(None), "input 'x': expected none, got int 0"),
        ("x", bytes, "input 'x': expected binary, got str 'x'"),
        ([1], dict, "input 'x': expected struct, got list [1]"),
        ({"a": 1}, list[int], "input 'x': expected list[integer], got dict {'a': 1}"),
        ([1, "b"], list[int], "input 'x'[1]: expected integer, got str 'b'"),
        ({"a": "b"}, dict[str, int], "input 'x'['a']: expected integer, got str 'b'"),
        ({1: 2}, dict[str, int], "input 'x': expected dict[str, integer], got a int key 1"),
        ("blue", Color, "input 'x': expected enum{'red', 'green'}, got str 'blue'"),
        ("s3://x", StructuredDataset, "input 'x': expected structured dataset, got str 's3://x'"),
        (Blob("s3://f"), Directory, "input 'x': expected directory, got Blob"),
        ("x", Optional[int], "input 'x': expected union[integer, none], got str 'x'"),
        ({"a": 1}, Union[dict, dict[str, int]], "input 'x': ambiguous union[struct, dict[str"),
        (2**63, int, "input 'x': cannot encode int 9223372036854775808 as integer"),
        ({"a": datetime.datetime(2020, 1, 1)}, dict, "input 'x': cannot encode dict"),
    ],
)
def test_mismatch_names_variable_and_both_types(value: Any, python_type: Any, message: str) -> None:
    with pytest.raises(LiteralConversionError) as info:
        to_literal(value, literal_type_for(python_type), name="input 'x'")
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_long_values_are_bounded_in_messages() -> None:
    with pytest.raises(LiteralConversionError) as info:
        to_literal("x" * 10_000, literal_type_for(int), name="input 'x'")
    assert len(str(info.value)) < 120


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, "scalar { primitive { integer: 1 } }"),
        (1.5, "scalar { primitive { float_value: 1.5 } }"),
        ("s", 'scalar { primitive { string_value: "s" } }'),
        (False, "scalar { primitive { boolean: false } }"),
        (None, "scalar { none_type { } }"),
        (b"b", 'scalar { binary { value: "b" } }'),
        (Color.GREEN, 'scalar { primitive { string_value: "green" } }'),
        (Level.LOW, 'scalar { primitive { string_value: "low" } }'),
        (
            datetime.datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC),
            "scalar { primitive { datetime { seconds: 1 } } }",
        ),
        (datetime.date(1970, 1, 2), "scalar { primitive { datetime { seconds: 86400 } } }"),
        (datetime.timedelta(seconds=2), "scalar { primitive { duration { seconds: 2 } } }"),
        (
            [1, "a"],
            "collection { literals { scalar { primitive { integer: 1 } } } "
            'literals { scalar { primitive { string_value: "a" } } } }',
        ),
        ({"a": 1}, 'scalar { binary { value: "\\201\\241a\\001" tag: "msgpack" } }'),
        (
            {"t": datetime.timedelta(seconds=1)},
            'map { literals { key: "t" value { scalar { primitive { duration { seconds: 1 } } } } '
            "} }",
        ),
        (
            StructuredDataset("s3://d", "parquet"),
            'scalar { structured_dataset { uri: "s3://d" '
            'metadata { structured_dataset_type { format: "parquet" } } } }',
        ),
        (
            Blob("s3://d", "csv", multipart=True),
            'scalar { blob { metadata { type { format: "csv" '
            'dimensionality: MULTIPART } } uri: "s3://d" } }',
        ),
    ],
)
def test_encode_untyped_follows_the_python_value(value: Any, expected: str) -> None:
    assert text(to_literal(value)) == expected


@pytest.mark.parametrize("value", [object(), {1, 2}, {1: datetime.timedelta(1)}, 1j])
def test_untyped_values_without_a_literal_raise(value: Any) -> None:
    with pytest.raises(LiteralConversionError, match=r"^output 'y': "):
        to_literal(value, name="output 'y'")


def test_empty_literal_type_is_treated_as_untyped() -> None:
    assert to_literal(3, LiteralType()).scalar.primitive.integer == 3


def test_unsupported_declared_kind_raises() -> None:
    with pytest.raises(LiteralConversionError, match="cannot encode values of type error"):
        to_literal(1, LiteralType(simple=SimpleType.ERROR))


def test_to_literal_map_checks_against_variables() -> None:
    outputs = variable_map({"a": int, "b": Optional[str]})
    lm = to_literal_map({"a": 1, "b": None}, outputs)
    assert lm.literals["a"].scalar.primitive.integer == 1
    assert lm.literals["b"].scalar.union.type.structure.tag == "none"


def test_to_literal_map_accepts_a_mapping_of_literal_types() -> None:
    lm = to_literal_map({"d": Blob("s3://x", multipart=True)}, {"d": literal_type_for(Directory)})
    assert lm.literals["d"].scalar.blob.metadata.type.dimensionality == BlobType.MULTIPART


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"a": 1}, "output 'b': missing, declared as union[string, none]"),
        ({"a": 1, "b": "x", "c": 2}, "output 'c': not declared in the interface"),
        ({"a": "1", "b": None}, "output 'a': expected integer, got str '1'"),
    ],
)
def test_to_literal_map_errors_name_the_variable(values: dict[str, Any], message: str) -> None:
    with pytest.raises(LiteralConversionError, match=f"^{message}$".replace("[", r"\[")):
        to_literal_map(values, variable_map({"a": int, "b": Optional[str]}))


def test_to_literal_map_kind_prefixes_messages() -> None:
    with pytest.raises(LiteralConversionError, match=r"^input 'a': "):
        to_literal_map({"a": "x"}, {"a": literal_type_for(int)}, kind="input")


def test_to_literal_map_untyped() -> None:
    lm = to_literal_map({"n": 1, "s": "x"})
    assert lm.literals["n"].scalar.primitive.integer == 1
    assert lm.literals["s"].scalar.primitive.string_value == "x"


@pytest.mark.parametrize(
    "value", [True, False, 0, -(2**63), 2**63 - 1, 1.5, float("inf"), "", "ü", "x" * 1000]
)
def test_to_literal_map_untyped_scalars_match_to_literal(value: Any) -> None:
    assert to_literal_map({"v": value}).literals["v"] == to_literal(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (2**63, "output 'v': cannot encode int 9223372036854775808"),
        ("a\udc80", "output 'v': cannot encode str"),
    ],
)
def test_to_literal_map_untyped_scalars_protobuf_rejects(value: Any, message: str) -> None:
    with pytest.raises(LiteralConversionError, match=f"^{message}"):
        to_literal_map({"v": value})


@pytest.mark.parametrize("declared", [True, False])
def test_protobuf_rejections_become_conversion_errors(declared: bool) -> None:
    lt = literal_type_for(list[int]) if declared else None
    with pytest.raises(LiteralConversionError) as info:
        to_literal([1, 2**64], lt, name="output 'o'")
    assert str(info.value).startswith("output 'o'[1]: cannot encode int 18446744073709551616")


def test_to_literal_map_fills_the_given_map() -> None:
    interface = variable_map({"a": int, "when": datetime.datetime})
    values = {"a": 1, "when": datetime.datetime(2026, 1, 2)}
    resource = agent_pb2.Resource()
    returned = to_literal_map(values, interface, into=resource.outputs)
    assert returned is resource.outputs
    assert resource.outputs == to_literal_map(values, interface)
    assert resource.outputs.literals["when"].scalar.primitive.datetime.seconds == 1767312000
