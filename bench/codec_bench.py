"""Literal codec throughput on the same values: agenthost.literals (``--impl agenthost``) or
flytekit's TypeEngine (``--impl flytekit``, run in the flytekit venv). Prints JSON: per case,
encode (Python value -> flyteidl protobuf, what goes on the wire) and decode (protobuf ->
Python value) calls per second (best of 7 windows), and a digest of the encoded bytes so the two
implementations' literals can be compared."""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

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
REPEATS = 7
"""Timed windows per figure; the best counts (a shared machine only ever slows a window)."""
MAP_TYPES = {"a": int, "b": str, "c": float, "d": list[int], "e": dict[str, str]}
MAP_VALUES = {"a": 7, "b": "text", "c": 1.5, "d": list(range(10)), "e": {"x": "1", "y": "2"}}


def rate(fn: Callable[[], Any], seconds: float) -> float:
    best = 0.0
    for _ in range(REPEATS):
        count, began = 0, time.perf_counter()
        deadline = began + seconds
        while True:
            for _ in range(20):
                fn()
            count += 20
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, count / (now - began))
    return best


def digest(message: Any) -> str:
    return hashlib.sha256(message.SerializeToString(deterministic=True)).hexdigest()[:12]


def agenthost_codec() -> dict[str, Callable[..., Any]]:
    from agenthost.literals import (
        from_literal,
        literal_map_to_python,
        literal_type_for,
        to_literal,
        to_literal_map,
        variable_map,
    )

    def encoder(python_type: Any, value: Any) -> Callable[[], Any]:
        lt = literal_type_for(python_type)
        return lambda: to_literal(value, lt)

    def decoder(python_type: Any, pb: Any) -> Callable[[], Any]:
        lt = literal_type_for(python_type)
        return lambda: from_literal(pb, lt)

    variables = variable_map(MAP_TYPES)
    return {
        "encoder": encoder,
        "decoder": decoder,
        "map_encode": lambda: to_literal_map(MAP_VALUES, variables),
        "map_decoder": lambda pb: lambda: literal_map_to_python(pb, variables),
    }


def flytekit_codec() -> dict[str, Callable[..., Any]]:
    from flytekit.core.context_manager import FlyteContextManager
    from flytekit.core.type_engine import TypeEngine
    from flytekit.models.literals import Literal, LiteralMap

    ctx = FlyteContextManager.current_context()

    def encoder(python_type: Any, value: Any) -> Callable[[], Any]:
        lt = TypeEngine.to_literal_type(python_type)
        return lambda: TypeEngine.to_literal(ctx, value, python_type, lt).to_flyte_idl()

    def decoder(python_type: Any, pb: Any) -> Callable[[], Any]:
        return lambda: TypeEngine.to_python_value(ctx, Literal.from_flyte_idl(pb), python_type)

    return {
        "encoder": encoder,
        "decoder": decoder,
        "map_encode": lambda: TypeEngine.dict_to_literal_map(
            ctx, MAP_VALUES, MAP_TYPES
        ).to_flyte_idl(),
        "map_decoder": lambda pb: (
            lambda: TypeEngine.literal_map_to_kwargs(ctx, LiteralMap.from_flyte_idl(pb), MAP_TYPES)
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--impl", choices=("agenthost", "flytekit"), required=True)
    parser.add_argument("--seconds", type=float, default=0.5)
    args = parser.parse_args()
    codec = agenthost_codec() if args.impl == "agenthost" else flytekit_codec()
    out: dict[str, Any] = {}
    for name, (python_type, value) in CASES.items():
        encode = codec["encoder"](python_type, value)
        pb = encode()
        decode = codec["decoder"](python_type, pb)
        assert decode() == value, (name, decode(), value)
        out[name] = {
            "encode_per_s": round(rate(encode, args.seconds)),
            "decode_per_s": round(rate(decode, args.seconds)),
            "digest": digest(pb),
        }
    pb = codec["map_encode"]()
    decode = codec["map_decoder"](pb)
    assert decode() == MAP_VALUES, decode()
    out["LiteralMap of 5"] = {
        "encode_per_s": round(rate(codec["map_encode"], args.seconds)),
        "decode_per_s": round(rate(decode, args.seconds)),
        "digest": digest(pb),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
