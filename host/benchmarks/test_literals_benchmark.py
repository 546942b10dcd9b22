"""Micro-benchmarks of the literal codec (pytest-benchmark): encode (Python value -> flyteidl
``Literal``, what goes on the wire) and decode (back) of the same values through
``agenthost.literals`` and, where flytekit is installed, through flytekit's ``TypeEngine``, each
after checking that flytekit produces the same literal bytes. Not part of CI's tests: ``nox -s
bench`` runs them in a venv of their own (its codec phase, the "Literal codec" table of
``bench/RESULTS.md``); by hand, ``pytest host/benchmarks`` with ``pytest-benchmark`` installed."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest

from agenthost.literals import (
    from_literal,
    literal_map_to_python,
    literal_type_for,
    to_literal,
    to_literal_map,
    variable_map,
)

UTC = datetime.timezone.utc
CASES: dict[str, tuple[Any, Any]] = {
    "int": (int, 42),
    "float": (float, 3.25),
    "str": (str, "hello world"),
    "bool": (bool, True),
    "datetime": (datetime.datetime, datetime.datetime(2026, 11, 24, 1, 2, 3, tzinfo=UTC)),
    "list[int] x100": (list[int], list(range(100))),
    "list[str] x10": (list[str], [f"item-{i}" for i in range(10)]),
    "dict[str, int] x20": (dict[str, int], {f"k{i}": i for i in range(20)}),
}
MAP = "LiteralMap of 5"
MAP_TYPES = {"a": int, "b": str, "c": float, "d": list[int], "e": dict[str, str]}
MAP_VALUES = {"a": 7, "b": "text", "c": 1.5, "d": list(range(10)), "e": {"x": "1", "y": "2"}}
ALL_CASES = [*CASES, MAP]

Codec = tuple[Callable[[], Any], Callable[[Any], Any], Any]
"""``(encode, decode, value)``: ``encode()`` returns the flyteidl message, ``decode(message)``
the Python value, which must equal ``value``."""


def agenthost_codec(case: str) -> Codec:
    """``agenthost.literals`` for ``case``."""
    if case == MAP:
        variables = variable_map(MAP_TYPES)
        return (
            lambda: to_literal_map(MAP_VALUES, variables),
            lambda pb: literal_map_to_python(pb, variables),
            MAP_VALUES,
        )
    python_type, value = CASES[case]
    literal_type = literal_type_for(python_type)
    return (
        lambda: to_literal(value, literal_type),
        lambda pb: from_literal(pb, literal_type),
        value,
    )


def flytekit_codec(case: str) -> Codec:
    """flytekit's ``TypeEngine`` for ``case`` (skips without flytekit)."""
    pytest.importorskip("flytekit")
    from flytekit.core.context_manager import FlyteContextManager
    from flytekit.core.type_engine import TypeEngine
    from flytekit.models.literals import Literal, LiteralMap

    ctx = FlyteContextManager.current_context()
    if case == MAP:
        return (
            lambda: TypeEngine.dict_to_literal_map(ctx, MAP_VALUES, MAP_TYPES).to_flyte_idl(),
            lambda pb: TypeEngine.literal_map_to_kwargs(
                ctx, LiteralMap.from_flyte_idl(pb), MAP_TYPES
            ),
            MAP_VALUES,
        )
    python_type, value = CASES[case]
    literal_type = TypeEngine.to_literal_type(python_type)
    return (
        lambda: TypeEngine.to_literal(ctx, value, python_type, literal_type).to_flyte_idl(),
        lambda pb: TypeEngine.to_python_value(ctx, Literal.from_flyte_idl(pb), python_type),
        value,
    )


CODECS = {"agenthost": agenthost_codec, "flytekit": flytekit_codec}


def _codec(impl: str, case: str) -> Codec:
    """``impl``'s codec for ``case``, checked: it round-trips, and flytekit's literal has the
    same bytes as agenthost's."""
    encode, decode, value = CODECS[impl](case)
    encoded = encode()
    assert decode(encoded) == value
    if impl != "agenthost":
        ours = agenthost_codec(case)[0]()
        assert encoded.SerializeToString(deterministic=True) == ours.SerializeToString(
            deterministic=True
        )
    return encode, decode, value


def _label(benchmark: Any, impl: str, case: str, operation: str) -> None:
    benchmark.group = f"{operation} {case}"
    benchmark.extra_info.update(impl=impl, case=case, operation=operation)


@pytest.mark.parametrize("impl", list(CODECS))
@pytest.mark.parametrize("case", ALL_CASES)
def test_encode(benchmark: Any, impl: str, case: str) -> None:
    encode, _, _ = _codec(impl, case)
    _label(benchmark, impl, case, "encode")
    assert benchmark(encode) is not None


@pytest.mark.parametrize("impl", list(CODECS))
@pytest.mark.parametrize("case", ALL_CASES)
def test_decode(benchmark: Any, impl: str, case: str) -> None:
    encode, decode, value = _codec(impl, case)
    encoded = encode()
    _label(benchmark, impl, case, "decode")
    assert benchmark(decode, encoded) == value
