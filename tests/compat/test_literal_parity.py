"""Differential tests: agenthost's literal codec against flytekit's TypeEngine (flytekit 1.16).

For each case both sides declare the type and encode the value; the LiteralTypes and Literals must
serialize to identical bytes (deterministic protobuf serialization), and each side must decode the
literal the other produced. Runs only where flytekit is installed (the "compat" environment).

Documented differences from flytekit (not tested for byte parity here, see the unit tests):

* ``bytes``: flytekit has no transformer and pickles bytes into a ``PythonPickle`` blob stored
  through its file access layer; agenthost declares ``SimpleType.BINARY`` and writes the bytes
  inline as ``Scalar.binary`` (empty tag). A host has no blob store to pickle into.
* ``datetime.date``: declared and encoded identically (DATETIME at midnight UTC), but with no
  Python type to guide it agenthost decodes the literal as a UTC ``datetime``, not a ``date``.
* Enums decode to their string value (agenthost has no Enum class to rebuild); dataclasses
  decode to their dict form; files and datasets decode to ``Blob``/``StructuredDataset``.
* agenthost is more lenient when encoding against a declared type: an ``int`` is accepted for a
  FLOAT, a ``tuple`` for a list, a ``date`` for a DATETIME and a ``str`` URI for a blob, where
  flytekit raises. Union variants are still chosen with flytekit's exact-type rules first.
"""

# typing.Optional/Union/List/Dict spellings are under test (flytekit sees them as distinct).
# ruff: noqa: UP006, UP007, UP045

from __future__ import annotations

import dataclasses
import datetime
import enum
import math
import typing
from collections.abc import Callable
from typing import Annotated, Any, Optional, Union

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("flytekit")

from flyteidl.core.literals_pb2 import Literal as PbLiteral
from flyteidl.core.types_pb2 import LiteralType as PbLiteralType
from flytekit import FlyteContext
from flytekit.core.type_engine import TypeEngine
from flytekit.models.literals import Literal as FkLiteral
from flytekit.models.types import LiteralType as FkLiteralType
from flytekit.types.directory import FlyteDirectory
from flytekit.types.file import FlyteFile
from flytekit.types.structured import StructuredDataset as FkDataset

from agenthost.literals import (
    Blob,
    BlobSpec,
    Directory,
    StructuredDataset,
    from_literal,
    literal_type_for,
    to_literal,
    variable_map,
)

UTC = datetime.timezone.utc
_MISSING: Any = object()


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


@dataclasses.dataclass
class Point:
    x: int
    y: float
    label: str
    tags: list[str]
    extra: Optional[dict[str, int]] = None


@dataclasses.dataclass(frozen=True)
class Case:
    """One value of one type, as flytekit sees it and as agenthost sees it."""

    id: str
    fk_type: Any
    fk_value: Any
    ours_type: Any = _MISSING  # a Python annotation, or a LiteralType taken from flytekit
    ours_value: Any = _MISSING
    ours_decoded: Any = _MISSING  # what agenthost decodes (default: ours_value)
    fk_decoded: Callable[[Any], Any] | None = None  # normalizes flytekit's decoded value
    fk_expected: Any = _MISSING  # compared with fk_decoded(value) (default: fk_value)

    def our_type(self) -> Any:
        return self.fk_type if self.ours_type is _MISSING else self.ours_type

    def our_value(self) -> Any:
        return self.fk_value if self.ours_value is _MISSING else self.ours_value

    def our_decoded(self) -> Any:
        return self.our_value() if self.ours_decoded is _MISSING else self.ours_decoded


def _flytekit_type(tp: Any) -> Any:
    return TypeEngine.to_literal_type(tp)


def _dc_type() -> PbLiteralType:
    return _flytekit_type(Point).to_flyte_idl()


_NAIVE = datetime.datetime(2024, 1, 2, 3, 4, 5, 6)
_AWARE = datetime.datetime(
    2024, 1, 2, 3, 4, 5, 6, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
)
_UNTYPED = {"a": 1.0, "b": 1, "c": "s", "d": [True, None], "e": b"xx", "f": {"g": -5, "h": 2**40}}

CASES: list[Case] = [
    Case("int", int, 42),
    Case("int-max", int, 2**63 - 1),
    Case("int-min", int, -(2**63)),
    Case("float", float, 1.5),
    Case("float-neg-zero", float, -0.0),
    Case("float-inf", float, math.inf),
    Case("str", str, "héllo ✓"),
    Case("str-empty", str, ""),
    Case("bool", bool, True),
    Case(
        "datetime-naive",
        datetime.datetime,
        _NAIVE,
        ours_decoded=_NAIVE.replace(tzinfo=UTC),
        fk_expected=_NAIVE.replace(tzinfo=UTC),
    ),
    Case("datetime-aware", datetime.datetime, _AWARE),
    Case(
        "datetime-before-epoch",
        datetime.datetime,
        datetime.datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
    ),
    Case("datetime-year-1", datetime.datetime, datetime.datetime(1, 1, 1, tzinfo=UTC)),
    Case(
        "date",
        datetime.date,
        datetime.date(2024, 1, 2),
        ours_decoded=datetime.datetime(2024, 1, 2, tzinfo=UTC),
    ),
    Case("timedelta", datetime.timedelta, datetime.timedelta(days=1, microseconds=3)),
    Case("timedelta-negative", datetime.timedelta, datetime.timedelta(microseconds=-3)),
    Case("none", type(None), None),
    Case("list-int", list[int], [1, 2, 3]),
    Case("list-empty", list[str], []),
    Case("typing-list", typing.List[float], [1.5, -2.0]),
    Case("list-list", list[list[int]], [[1], [], [2, 3]]),
    Case("list-optional", list[Optional[int]], [1, None]),
    Case("dict-str-int", dict[str, int], {"a": 1, "b": 2}),
    Case("typing-dict", typing.Dict[str, str], {"k": "v"}),
    Case("dict-nested", dict[str, dict[str, float]], {"a": {"b": 1.5}, "c": {}}),
    Case("dict-of-lists", dict[str, list[Optional[str]]], {"a": ["x", None]}),
    Case("list-of-dicts", list[dict[str, int]], [{"a": 1}, {}]),
    Case("dict-untyped", dict, _UNTYPED),
    Case("dict-untyped-empty", dict, {}),
    Case("dict-untyped-int-keys", dict, {1: "a", 2: [1.5]}),
    Case("dict-int-str", dict[int, str], {1: "a"}),
    Case(
        "dataclass-like",
        Point,
        Point(1, 2.5, "p", ["a", "b"], {"k": 3}),
        ours_type=_dc_type(),
        ours_value={"x": 1, "y": 2.5, "label": "p", "tags": ["a", "b"], "extra": {"k": 3}},
    ),
    Case("optional-int-some", Optional[int], 3),
    Case("optional-int-none", Optional[int], None),
    Case("pep604-optional", int | None, 7),
    Case("none-first-optional", Union[None, int], 7),
    Case("optional-float", Optional[float], 2.5),
    Case(
        "optional-datetime", Optional[datetime.datetime], datetime.datetime(2020, 5, 6, tzinfo=UTC)
    ),
    Case("optional-timedelta", Optional[datetime.timedelta], datetime.timedelta(seconds=5)),
    Case("optional-list", Optional[list[int]], [1]),
    Case("optional-dict", Optional[dict[str, int]], {"a": 1}),
    Case("optional-untyped-dict", Optional[dict], {"a": [1, "b"]}),
    Case("union-int-str-str", Union[int, str], "x"),
    Case("union-int-str-int", Union[int, str], 3),
    Case("union-int-float-float", Union[int, float], 3.0),
    Case("union-int-float-int", Union[int, float], 3),
    Case("union-int-bool", Union[int, bool], True),
    Case("union-three", Union[int, None, str], "s"),
    Case("union-list-dict", Union[list[int], dict[str, int]], {"a": 1}),
    Case("union-str-enum-str", Union[str, Color], "red"),
    Case("union-str-enum-member", Union[str, Color], Color.GREEN, ours_decoded="green"),
    Case("enum", Color, Color.RED, ours_decoded="red"),
    Case("optional-enum", Optional[Color], Color.GREEN, ours_decoded="green"),
    Case(
        "optional-dataclass",
        Optional[Point],
        Point(1, 2.0, "q", []),
        ours_type=_flytekit_type(Optional[Point]).to_flyte_idl(),
        ours_value={"x": 1, "y": 2.0, "label": "q", "tags": [], "extra": None},
    ),
    Case(
        "dataset",
        FkDataset,
        FkDataset(uri="s3://b/x", file_format="parquet"),
        ours_type=StructuredDataset,
        ours_value=StructuredDataset("s3://b/x", "parquet"),
        fk_decoded=lambda sd: (sd.literal.uri, sd.file_format),
        fk_expected=("s3://b/x", "parquet"),
    ),
    Case(
        "dataset-generic",
        FkDataset,
        FkDataset(uri="bq://p:d.t"),
        ours_type=StructuredDataset,
        ours_value=StructuredDataset("bq://p:d.t"),
        fk_decoded=lambda sd: sd.literal.uri,
        fk_expected="bq://p:d.t",
    ),
    Case(
        "dataset-annotated",
        Annotated[FkDataset, "parquet"],
        FkDataset(uri="s3://b/y", file_format="csv"),
        ours_type=Annotated[StructuredDataset, "parquet"],
        ours_value=StructuredDataset("s3://b/y", "csv"),
        ours_decoded=StructuredDataset("s3://b/y", "parquet"),
        fk_decoded=lambda sd: sd.literal.uri,
        fk_expected="s3://b/y",
    ),
    Case(
        "optional-dataset",
        Optional[FkDataset],
        FkDataset(uri="s3://b/z", file_format="csv"),
        ours_type=Optional[StructuredDataset],
        ours_value=StructuredDataset("s3://b/z", "csv"),
        fk_decoded=lambda sd: sd.literal.uri,
        fk_expected="s3://b/z",
    ),
    Case(
        "file",
        FlyteFile,
        FlyteFile("s3://b/f.csv"),
        ours_type=Blob,
        ours_value=Blob("s3://b/f.csv"),
        fk_decoded=lambda f: f.remote_source,
        fk_expected="s3://b/f.csv",
    ),
    Case(
        "file-csv",
        FlyteFile[typing.TypeVar("csv")],
        FlyteFile("s3://b/f.csv"),
        ours_type=Annotated[Blob, BlobSpec(format="csv")],
        ours_value=Blob("s3://b/f.csv", "csv"),
        fk_decoded=lambda f: f.remote_source,
        fk_expected="s3://b/f.csv",
    ),
    Case(
        "directory",
        FlyteDirectory,
        FlyteDirectory("s3://b/d"),
        ours_type=Directory,
        ours_value=Blob("s3://b/d", multipart=True),
        fk_decoded=lambda d: d.remote_source,
        fk_expected="s3://b/d",
    ),
    Case(
        "optional-file",
        Optional[FlyteFile],
        FlyteFile("s3://b/g"),
        ours_type=Optional[Blob],
        ours_value=Blob("s3://b/g"),
        fk_decoded=lambda f: f.remote_source,
        fk_expected="s3://b/g",
    ),
    Case(
        "optional-directory",
        Optional[FlyteDirectory],
        FlyteDirectory("s3://b/e"),
        ours_type=Optional[Directory],
        ours_value=Blob("s3://b/e", multipart=True),
        fk_decoded=lambda d: d.remote_source,
        fk_expected="s3://b/e",
    ),
]


@pytest.fixture(scope="module")
def ctx() -> Any:
    return FlyteContext.current_context()


def _bytes(message: Any) -> bytes:
    return message.SerializeToString(deterministic=True)  # type: ignore[no-any-return]


def _our_literal_type(case: Case) -> PbLiteralType:
    tp = case.our_type()
    return tp if isinstance(tp, PbLiteralType) else literal_type_for(tp)


def _flytekit_literal(ctx: Any, case: Case) -> PbLiteral:
    lt = TypeEngine.to_literal_type(case.fk_type)
    return TypeEngine.to_literal(ctx, case.fk_value, case.fk_type, lt).to_flyte_idl()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_literal_type_matches_flytekit(case: Case) -> None:
    assert _bytes(_our_literal_type(case)) == _bytes(_flytekit_type(case.fk_type).to_flyte_idl())


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_literal_bytes_match_flytekit(ctx: Any, case: Case) -> None:
    ours = to_literal(case.our_value(), _our_literal_type(case), name="input 'x'")
    assert _bytes(ours) == _bytes(_flytekit_literal(ctx, case))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_agenthost_decodes_flytekit_literal(ctx: Any, case: Case) -> None:
    theirs = _flytekit_literal(ctx, case)
    assert from_literal(theirs, _our_literal_type(case)) == case.our_decoded()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_agenthost_decodes_flytekit_literal_untyped(ctx: Any, case: Case) -> None:
    theirs = _flytekit_literal(ctx, case)
    assert from_literal(theirs) == case.our_decoded()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_flytekit_decodes_agenthost_literal(ctx: Any, case: Case) -> None:
    ours = to_literal(case.our_value(), _our_literal_type(case))
    value = TypeEngine.to_python_value(ctx, FkLiteral.from_flyte_idl(ours), case.fk_type)
    expected = case.fk_value if case.fk_expected is _MISSING else case.fk_expected
    assert (case.fk_decoded(value) if case.fk_decoded else value) == expected


def test_variable_map_matches_flytekit_interface() -> None:
    from flytekit.core.interface import transform_variable_map

    types = {"a": int, "b": Optional[list[str]], "c": dict, "d": Color}
    theirs = transform_variable_map(types)
    ours = variable_map(types)
    assert set(ours.variables) == set(theirs)
    for name, var in theirs.items():
        assert _bytes(ours.variables[name]) == _bytes(var.to_flyte_idl())


def test_flytekit_literal_type_round_trips_through_our_decoder(ctx: Any) -> None:
    # The literal type flytekit declares is usable as-is by agenthost (FkLiteralType -> proto).
    lt: FkLiteralType = _flytekit_type(dict[str, list[int]])
    lit = to_literal({"a": [1, 2]}, lt.to_flyte_idl())
    assert TypeEngine.to_python_value(ctx, FkLiteral.from_flyte_idl(lit), dict[str, list[int]]) == {
        "a": [1, 2]
    }


def test_bytes_differ_from_flytekit_by_design() -> None:
    """flytekit pickles bytes into a blob; agenthost declares BINARY and writes them inline."""
    ours = literal_type_for(bytes)
    theirs = _flytekit_type(bytes).to_flyte_idl()
    assert ours.WhichOneof("type") == "simple"
    assert theirs.WhichOneof("type") == "blob"
    assert from_literal(to_literal(b"\x00\x01", ours), ours) == b"\x00\x01"


def test_legacy_generic_struct_decodes_like_flytekit(
    ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before 1.14 (and with FLYTE_USE_OLD_DC_FORMAT) flytekit wrote dicts as Scalar.generic.
    monkeypatch.setenv("FLYTE_USE_OLD_DC_FORMAT", "true")
    value = {"a": 1, "b": [1.5, None, "x"], "c": {"d": True}}
    fk_literal = TypeEngine.to_literal(ctx, value, dict, TypeEngine.to_literal_type(dict))
    theirs = fk_literal.to_flyte_idl()
    assert theirs.scalar.WhichOneof("value") == "generic"
    expected = TypeEngine.to_python_value(ctx, fk_literal, dict)
    assert from_literal(theirs, literal_type_for(dict)) == expected
    assert from_literal(theirs) == expected


def test_empty_generic_struct_decodes_like_flytekit(ctx: Any) -> None:
    theirs = PbLiteral()
    theirs.scalar.generic.SetInParent()
    expected = TypeEngine.to_python_value(ctx, FkLiteral.from_flyte_idl(theirs), dict)
    assert expected == {}
    assert from_literal(theirs, literal_type_for(dict)) == expected
    assert from_literal(theirs) == expected


# --- property-based differential test ------------------------------------------------------

Pair = tuple[Any, st.SearchStrategy[Any]]

_INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_FLOATS = st.floats(allow_nan=False)
_AWARE_MOMENTS = st.builds(
    lambda moment, offset: moment.replace(tzinfo=datetime.timezone(offset)),
    st.datetimes(min_value=datetime.datetime(2, 1, 1), max_value=datetime.datetime(9998, 1, 1)),
    st.timedeltas(min_value=datetime.timedelta(hours=-23), max_value=datetime.timedelta(hours=23)),
)
_DURATIONS = st.timedeltas(
    min_value=datetime.timedelta(days=-3_650_000), max_value=datetime.timedelta(days=3_650_000)
)
_MSGPACK = st.recursive(
    st.none() | st.booleans() | _INT64 | _FLOATS | st.text(max_size=6) | st.binary(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
_LEAVES: list[Pair] = [
    (int, _INT64),
    (float, _FLOATS),
    (str, st.text(max_size=10)),
    (bool, st.booleans()),
    (datetime.datetime, _AWARE_MOMENTS),
    (datetime.timedelta, _DURATIONS),
    (dict, st.dictionaries(st.text(max_size=4), _MSGPACK, max_size=3)),
    (Union[int, str], _INT64 | st.text(max_size=5)),
    (Union[int, float], _INT64 | _FLOATS),
]


def _extend(children: st.SearchStrategy[Pair]) -> st.SearchStrategy[Pair]:
    return st.one_of(
        children.map(lambda p: (list[p[0]], st.lists(p[1], max_size=3))),  # type: ignore[valid-type]
        children.map(
            lambda p: (dict[str, p[0]], st.dictionaries(st.text(max_size=4), p[1], max_size=3))  # type: ignore[valid-type]
        ),
        children.map(lambda p: (Optional[p[0]], st.none() | p[1])),
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pair=st.recursive(st.sampled_from(_LEAVES), _extend, max_leaves=3), data=st.data())
def test_generated_values_match_flytekit(pair: Pair, data: st.DataObject) -> None:
    python_type, values = pair
    value = data.draw(values)
    ctx = FlyteContext.current_context()
    fk_type = TypeEngine.to_literal_type(python_type)
    ours_type = literal_type_for(python_type)
    assert _bytes(ours_type) == _bytes(fk_type.to_flyte_idl())

    theirs = TypeEngine.to_literal(ctx, value, python_type, fk_type)
    ours = to_literal(value, ours_type)
    assert _bytes(ours) == _bytes(theirs.to_flyte_idl())
    assert from_literal(theirs.to_flyte_idl(), ours_type) == value
    assert TypeEngine.to_python_value(ctx, FkLiteral.from_flyte_idl(ours), python_type) == value
