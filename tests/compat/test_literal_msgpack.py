"""flytekit's msgpack-encoded generic values against agenthost's codec (adds to
``test_literal_parity.py``).

Since 1.14 flytekit writes untyped dicts, dataclasses and pydantic models as
``Scalar.binary`` with tag ``msgpack``, declared as a ``STRUCT`` whose annotation says
``cache-key-metadata: {serialization-format: msgpack}``. Inside, enums are their values,
datetimes ISO strings, files/directories ``{"path": ...}`` and datasets ``{"uri", "file_format"}``.
agenthost has none of those Python classes: it sees the dict form. For every case here, using
the literal type flytekit declares (as found in a registered task's interface):

* flytekit's literal type carries the msgpack annotation where flytekit uses msgpack;
* agenthost encodes the dict form to the same bytes flytekit writes for the object;
* agenthost decodes flytekit's literal (typed and untyped) to the dict form;
* flytekit decodes agenthost's literal back to an object equal to the original (compared by
  flytekit re-encoding it).
"""

# typing.Optional/Union/Dict spellings are under test (flytekit's BatchEndpointTask declares
# typing.Dict; flytekit treats the spellings separately).
# ruff: noqa: UP006, UP007, UP045

from __future__ import annotations

import dataclasses
import datetime
import enum
import typing
from dataclasses import dataclass
from typing import Any, Optional, Union

import pydantic
import pytest
from flyteidl.core.literals_pb2 import Literal as PbLiteral
from flyteidl.core.types_pb2 import LiteralType as PbLiteralType
from flyteidl.core.types_pb2 import SimpleType
from flytekit import FlyteContext
from flytekit.core.type_engine import TypeEngine
from flytekit.models.literals import Literal as FkLiteral
from flytekit.types.directory import FlyteDirectory
from flytekit.types.file import FlyteFile
from flytekit.types.structured import StructuredDataset as FkDataset

from agenthost.literals import Blob, StructuredDataset, from_literal, to_literal

UTC = datetime.timezone.utc
MSGPACK_ANNOTATION = {"cache-key-metadata": {"serialization-format": "msgpack"}}


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


@dataclass
class Inner:
    n: int
    color: Color


@dataclass
class Everything:
    inner: Inner
    items: list[Inner]
    when: datetime.datetime
    file: FlyteFile
    folder: FlyteDirectory
    table: FkDataset
    maybe: Optional[str] = None
    either: Union[int, str] = 3
    scores: dict[str, float] = dataclasses.field(default_factory=dict)


class Model(pydantic.BaseModel):
    a: int
    tags: list[str]
    file: FlyteFile
    color: Color


@dataclass(frozen=True)
class Case:
    id: str
    fk_type: Any
    fk_value: Any
    ours_value: Any = None  # what agenthost sees (the dict form); default: fk_value
    msgpack: bool = True  # flytekit writes (at least part of) it as msgpack


_EVERYTHING_DICT = {
    "inner": {"n": 1, "color": "red"},
    "items": [{"n": 2, "color": "green"}],
    "when": "2024-01-02T03:04:05+00:00",
    "file": {"path": "s3://bucket/f.csv"},
    "folder": {"path": "s3://bucket/dir"},
    "table": {"uri": "bq://p:d.t", "file_format": "parquet"},
    "maybe": None,
    "either": "x",
    "scores": {"a": 0.5},
}

CASES = [
    Case("untyped-dict", dict, {"a": 1, "b": [1.5, None], "c": {"d": True}}),
    Case("typing-Dict", typing.Dict, {"status": "completed", "n": 2}),
    Case(
        "dataclass-nested-with-files-datasets-enums",
        Everything,
        Everything(
            inner=Inner(1, Color.RED),
            items=[Inner(2, Color.GREEN)],
            when=datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
            file=FlyteFile("s3://bucket/f.csv"),
            folder=FlyteDirectory("s3://bucket/dir"),
            table=FkDataset(uri="bq://p:d.t", file_format="parquet"),
            either="x",
            scores={"a": 0.5},
        ),
        _EVERYTHING_DICT,
    ),
    Case(
        "pydantic-model",
        Model,
        Model(a=1, tags=["x"], file=FlyteFile("s3://bucket/m"), color=Color.GREEN),
        {"a": 1, "tags": ["x"], "file": {"path": "s3://bucket/m"}, "color": "green"},
    ),
    Case(
        "list-of-dataclasses",
        list[Inner],
        [Inner(1, Color.RED), Inner(2, Color.GREEN)],
        [{"n": 1, "color": "red"}, {"n": 2, "color": "green"}],
    ),
    Case(
        "dict-of-dataclasses",
        dict[str, Inner],
        {"k": Inner(3, Color.RED)},
        {"k": {"n": 3, "color": "red"}},
    ),
    Case("optional-dataclass-none", Optional[Inner], None, msgpack=False),
    Case(
        "union-dataclass-or-int-dataclass",
        Union[Inner, int],
        Inner(5, Color.GREEN),
        {"n": 5, "color": "green"},
    ),
    Case("union-dataclass-or-int-int", Union[Inner, int], 5, 5, msgpack=False),
    Case("optional-untyped-dict", Optional[dict], {"x": [1, "y"]}),
    Case("list-of-untyped-dicts", list[dict], [{"a": 1}, {}]),  # type: ignore[type-arg]
    Case("list-of-enums", list[Color], [Color.RED, Color.GREEN], ["red", "green"], msgpack=False),
    Case(
        "dict-of-files",
        dict[str, FlyteFile],
        {"a": FlyteFile("s3://bucket/a")},
        {"a": Blob("s3://bucket/a")},
        msgpack=False,
    ),
    Case(
        "list-of-datasets",
        list[FkDataset],
        [FkDataset(uri="s3://bucket/t")],
        [StructuredDataset("s3://bucket/t", "")],
        msgpack=False,
    ),
]


def _ours(case: Case) -> Any:
    return case.fk_value if case.ours_value is None else case.ours_value


@pytest.fixture(scope="module")
def ctx() -> Any:
    return FlyteContext.current_context()


def _bytes(message: Any) -> bytes:
    return message.SerializeToString(deterministic=True)  # type: ignore[no-any-return]


def _fk_type(case: Case) -> PbLiteralType:
    return TypeEngine.to_literal_type(case.fk_type).to_flyte_idl()


def _fk_literal(ctx: Any, case: Case) -> PbLiteral:
    lt = TypeEngine.to_literal_type(case.fk_type)
    return TypeEngine.to_literal(ctx, case.fk_value, case.fk_type, lt).to_flyte_idl()


def _binaries(literal: PbLiteral) -> list[Any]:
    """Every ``Scalar.binary`` in ``literal`` (through collections, maps and unions)."""
    found: list[Any] = []
    kind = literal.WhichOneof("value")
    if kind == "scalar":
        scalar = literal.scalar.WhichOneof("value")
        if scalar == "binary":
            found.append(literal.scalar.binary)
        elif scalar == "union":
            found += _binaries(literal.scalar.union.value)
    elif kind == "collection":
        for item in literal.collection.literals:
            found += _binaries(item)
    elif kind == "map":
        for item in literal.map.literals.values():
            found += _binaries(item)
    return found


def _struct_types(lt: PbLiteralType) -> list[PbLiteralType]:
    kind = lt.WhichOneof("type")
    if kind == "collection_type":
        return _struct_types(lt.collection_type)
    if kind == "map_value_type":
        return _struct_types(lt.map_value_type)
    if kind == "union_type":
        return [t for v in lt.union_type.variants for t in _struct_types(v)]
    return [lt] if kind == "simple" and lt.simple == SimpleType.STRUCT else []


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_flytekit_uses_msgpack_where_expected(ctx: Any, case: Case) -> None:
    binaries = _binaries(_fk_literal(ctx, case))
    assert bool(binaries) is case.msgpack
    assert all(b.tag == "msgpack" for b in binaries)
    if case.msgpack:
        from google.protobuf import json_format

        structs = _struct_types(_fk_type(case))
        assert structs
        for struct in structs:
            annotation = json_format.MessageToDict(struct.annotation.annotations)
            assert annotation == MSGPACK_ANNOTATION


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_agenthost_writes_flytekits_bytes(ctx: Any, case: Case) -> None:
    ours = to_literal(_ours(case), _fk_type(case))
    assert _bytes(ours) == _bytes(_fk_literal(ctx, case))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_agenthost_decodes_flytekits_literal(ctx: Any, case: Case) -> None:
    theirs = _fk_literal(ctx, case)
    assert from_literal(theirs, _fk_type(case)) == _ours(case)
    assert from_literal(theirs) == _ours(case)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_flytekit_decodes_agenthosts_literal(ctx: Any, case: Case) -> None:
    ours = to_literal(_ours(case), _fk_type(case))
    value = TypeEngine.to_python_value(ctx, FkLiteral.from_flyte_idl(ours), case.fk_type)
    lt = TypeEngine.to_literal_type(case.fk_type)
    again = TypeEngine.to_literal(ctx, value, case.fk_type, lt).to_flyte_idl()
    assert _bytes(again) == _bytes(_fk_literal(ctx, case))
