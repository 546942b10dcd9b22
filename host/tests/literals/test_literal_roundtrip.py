"""Property-based round trips: from_literal(to_literal(v, t), t) == v, also through the wire."""

# typing.Optional/Union spellings are under test here (flytekit sees them as distinct types).
# ruff: noqa: UP007, UP045

from __future__ import annotations

import datetime
import enum
from typing import Any, Optional, Union

import pytest
from flyteidl.core.literals_pb2 import Literal, LiteralMap
from hypothesis import given, settings
from hypothesis import strategies as st

from agenthost.literals import (
    Blob,
    Directory,
    LiteralConversionError,
    StructuredDataset,
    describe_type,
    from_literal,
    literal_map_to_python,
    literal_type_for,
    to_literal,
    to_literal_map,
)

UTC = datetime.timezone.utc
THOROUGH = settings(max_examples=150, deadline=None)


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


Pair = tuple[Any, st.SearchStrategy[Any]]

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FLOATS = st.floats(allow_nan=False)
OFFSETS = st.timedeltas(
    min_value=datetime.timedelta(hours=-23), max_value=datetime.timedelta(hours=23)
)
AWARE_DATETIMES = st.builds(
    lambda moment, offset: moment.replace(tzinfo=datetime.timezone(offset)),
    st.datetimes(min_value=datetime.datetime(2, 1, 1), max_value=datetime.datetime(9998, 12, 31)),
    OFFSETS,
)
DURATIONS = st.timedeltas(
    min_value=datetime.timedelta(days=-3_650_000), max_value=datetime.timedelta(days=3_650_000)
)
URIS = st.text(min_size=1, max_size=20).map(lambda s: f"s3://bucket/{s}")
MSGPACK_SCALARS = (
    st.none() | st.booleans() | INT64 | FLOATS | st.text(max_size=8) | st.binary(max_size=8)
)
MSGPACK_VALUES = st.recursive(
    MSGPACK_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)

LEAVES: list[Pair] = [
    (int, INT64),
    (float, FLOATS),
    (str, st.text()),
    (bool, st.booleans()),
    (datetime.datetime, AWARE_DATETIMES),
    (datetime.timedelta, DURATIONS),
    (bytes, st.binary()),
    (dict, st.dictionaries(st.text(max_size=5), MSGPACK_VALUES, max_size=4)),
    (Color, st.sampled_from(["red", "green"])),
    (
        StructuredDataset,
        st.builds(StructuredDataset, URIS, st.sampled_from(["", "parquet", "csv"])),
    ),
    (Blob, st.builds(Blob, URIS, st.sampled_from(["", "csv"]))),
    (Directory, st.builds(lambda uri: Blob(uri, multipart=True), URIS)),
    (Union[int, str], INT64 | st.text()),
    (Union[int, float], INT64 | FLOATS),
    (Union[int, bool], INT64 | st.booleans()),
    (Union[str, Color], st.text()),
]


def _extend(children: st.SearchStrategy[Pair]) -> st.SearchStrategy[Pair]:
    def as_list(pair: Pair) -> Pair:
        return list[pair[0]], st.lists(pair[1], max_size=3)  # type: ignore[valid-type]

    def as_map(pair: Pair) -> Pair:
        return dict[str, pair[0]], st.dictionaries(st.text(max_size=5), pair[1], max_size=3)  # type: ignore[valid-type]

    def as_optional(pair: Pair) -> Pair:
        return Optional[pair[0]], st.none() | pair[1]

    return st.one_of(children.map(as_list), children.map(as_map), children.map(as_optional))


TYPED_VALUES: st.SearchStrategy[Pair] = st.recursive(st.sampled_from(LEAVES), _extend, max_leaves=4)


def _wire(literal: Literal) -> Literal:
    return Literal.FromString(literal.SerializeToString())


@THOROUGH
@given(pair=TYPED_VALUES, data=st.data())
def test_typed_round_trip(pair: Pair, data: st.DataObject) -> None:
    python_type, values = pair
    value = data.draw(values)
    lt = literal_type_for(python_type)
    literal = to_literal(value, lt)
    assert from_literal(literal, lt) == value
    assert from_literal(_wire(literal), lt) == value


UNTYPED_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | INT64
    | FLOATS
    | st.text(max_size=8)
    | st.binary(max_size=8)
    | AWARE_DATETIMES
    | DURATIONS
    | st.builds(StructuredDataset, URIS, st.sampled_from(["", "parquet"]))
    | st.builds(Blob, URIS, st.sampled_from(["", "csv"]), st.booleans()),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@THOROUGH
@given(value=UNTYPED_VALUES)
def test_untyped_round_trip(value: Any) -> None:
    literal = to_literal(value)
    assert from_literal(literal) == value
    assert from_literal(_wire(literal)) == value


@THOROUGH
@given(values=st.dictionaries(st.text(max_size=5), UNTYPED_VALUES, max_size=4))
def test_untyped_literal_map_round_trip(values: dict[str, Any]) -> None:
    lm = LiteralMap.FromString(to_literal_map(values).SerializeToString())
    assert literal_map_to_python(lm) == values


@THOROUGH
@given(pair=TYPED_VALUES, data=st.data())
def test_typed_literal_map_round_trip(pair: Pair, data: st.DataObject) -> None:
    python_type, values = pair
    value = data.draw(values)
    variables = {"v": literal_type_for(python_type)}
    lm = LiteralMap.FromString(to_literal_map({"v": value}, variables).SerializeToString())
    assert literal_map_to_python(lm, variables) == {"v": value}


# Kinds that never accept each other's values (float is left out: it accepts ints).
EXCLUSIVE: dict[str, Pair] = {
    "int": (int, INT64),
    "str": (str, st.text(max_size=10)),
    "bool": (bool, st.booleans()),
    "bytes": (bytes, st.binary(max_size=10)),
    "none": (type(None), st.none()),
    "duration": (datetime.timedelta, DURATIONS),
    "datetime": (datetime.datetime, AWARE_DATETIMES),
    "list": (list[int], st.lists(INT64, min_size=1, max_size=3)),
    "dataset": (StructuredDataset, st.builds(StructuredDataset, URIS)),
}
KIND_PAIRS = [(a, b) for a in EXCLUSIVE for b in EXCLUSIVE if a != b]


@pytest.mark.parametrize(("declared", "actual"), KIND_PAIRS)
@settings(max_examples=5, deadline=None)
@given(data=st.data(), name=st.text(min_size=1, max_size=8))
def test_mismatches_raise_naming_variable_and_types(
    declared: str, actual: str, data: st.DataObject, name: str
) -> None:
    declared_type = literal_type_for(EXCLUSIVE[declared][0])
    actual_type = literal_type_for(EXCLUSIVE[actual][0])
    value = data.draw(EXCLUSIVE[actual][1])
    label = f"input {name!r}"

    with pytest.raises(LiteralConversionError) as encoding:
        to_literal(value, declared_type, name=label)
    assert str(encoding.value).startswith(f"{label}")
    assert f"expected {describe_type(declared_type)}, got " in str(encoding.value)

    literal = to_literal(value, actual_type)
    with pytest.raises(LiteralConversionError) as decoding:
        from_literal(literal, declared_type, name=label)
    assert str(decoding.value).startswith(f"{label}: expected {describe_type(declared_type)}, got ")


@THOROUGH
@given(
    moment=st.datetimes(
        min_value=datetime.datetime(1, 1, 1), max_value=datetime.datetime(9999, 12, 31)
    )
)
def test_naive_datetimes_are_read_as_utc(moment: datetime.datetime) -> None:
    lt = literal_type_for(datetime.datetime)
    decoded = from_literal(to_literal(moment, lt), lt)
    assert decoded == moment.replace(tzinfo=UTC)
    assert decoded.tzinfo is UTC
