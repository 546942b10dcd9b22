"""Read the ``resource_meta`` that flytekit's OpenAI batch connector wrote, without unpickling.

flytekit encodes its ``BatchEndpointMetadata(openai_org, batch_id)`` with cloudpickle. So that
batches started under flytekit's server can be polled and cancelled after a switch to
agenthost, this module walks the pickle's opcodes with ``pickletools.genops`` (which only parses)
and accepts exactly the shape that object produces: the class named by reference and a state
dict of string (or null) fields. Nothing is imported, constructed or called; any other opcode,
class or field is rejected.
"""

from __future__ import annotations

import pickletools
from typing import Any

from agenthost import ResourceMetaError

PICKLE_PREFIX = b"\x80"
"""First byte of a protocol-2+ pickle; a JSON ``resource_meta`` starts with ``{``."""

FLYTEKIT_CLASSES = frozenset(
    {
        ("flytekitplugins.openai.batch.connector", "BatchEndpointMetadata"),
        ("flytekitplugins.openai.batch.agent", "BatchEndpointMetadata"),
    }
)
FIELDS = frozenset({"openai_org", "batch_id"})

_STRINGS = frozenset(
    {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING"}
)
_MEMO_PUT = frozenset({"MEMOIZE", "BINPUT", "LONG_BINPUT", "PUT"})
_MEMO_GET = frozenset({"BINGET", "LONG_BINGET", "GET"})
_IGNORED = frozenset({"PROTO", "FRAME", "STOP"})
_MARK = object()


class _Object:
    """The placeholder for the (never constructed) flytekit metadata object."""

    def __init__(self) -> None:
        self.state: dict[str, Any] | None = None


def looks_pickled(data: bytes) -> bool:
    """Whether ``data`` is a pickle rather than JSON."""
    return data[:1] == PICKLE_PREFIX


def read_flytekit_metadata(data: bytes) -> dict[str, str | None]:
    """The ``{"openai_org": ..., "batch_id": ...}`` fields of flytekit's pickled metadata.

    Raises ``ResourceMetaError`` for anything that is not exactly that object.
    """
    try:
        ops = list(pickletools.genops(data))
    except Exception:
        raise ResourceMetaError("resource_meta is a malformed pickle") from None
    stack: list[Any] = []
    memo: dict[Any, Any] = {}
    result: _Object | None = None
    for opcode, arg, _ in ops:
        name = opcode.name
        if name in _IGNORED:
            continue
        if name in _STRINGS:
            stack.append(arg.decode("utf-8", "replace") if isinstance(arg, bytes) else arg)
        elif name == "NONE":
            stack.append(None)
        elif name in _MEMO_PUT:
            if not stack:
                raise _reject(name)
            memo[len(memo) if name == "MEMOIZE" else arg] = stack[-1]
        elif name in _MEMO_GET:
            if arg not in memo:
                raise _reject(name)
            stack.append(memo[arg])
        elif name == "MARK":
            stack.append(_MARK)
        elif name == "EMPTY_DICT":
            stack.append({})
        elif name == "EMPTY_TUPLE":
            stack.append(())
        elif name in ("GLOBAL", "STACK_GLOBAL"):
            if name == "GLOBAL":
                module, _, qualname = str(arg).partition(" ")
            else:
                if len(stack) < 2:
                    raise _reject(name)
                qualname, module = stack.pop(), stack.pop()
            if (module, qualname) not in FLYTEKIT_CLASSES:
                raise ResourceMetaError("resource_meta is a pickle of an unexpected class")
            stack.append((module, qualname))
        elif name in ("NEWOBJ", "NEWOBJ_EX"):
            if len(stack) < 2 or stack[-1] != () or not _is_class(stack[-2]):
                raise _reject(name)
            stack.pop()
            stack.pop()
            result = _Object()
            stack.append(result)
        elif name in ("SETITEM", "SETITEMS"):
            items: list[Any] = []
            if name == "SETITEMS":
                while stack and stack[-1] is not _MARK:
                    items.insert(0, stack.pop())
                if not stack:
                    raise _reject(name)
                stack.pop()
            else:
                if len(stack) < 2:
                    raise _reject(name)
                items = [stack.pop(-2), stack.pop()]
            if not stack or not isinstance(stack[-1], dict) or len(items) % 2:
                raise _reject(name)
            target = stack[-1]
            for key, value in zip(items[::2], items[1::2], strict=True):
                target[key] = value
        elif name == "BUILD":
            if len(stack) < 2 or not isinstance(stack[-1], dict):
                raise _reject(name)
            state = stack.pop()
            obj = stack[-1]
            if not isinstance(obj, _Object):
                raise _reject(name)
            obj.state = state
        else:
            raise _reject(name)
    if result is None or result.state is None or stack != [result]:
        raise ResourceMetaError("resource_meta pickle does not hold flytekit batch metadata")
    state = result.state
    if set(state) != FIELDS or not all(v is None or isinstance(v, str) for v in state.values()):
        raise ResourceMetaError("resource_meta pickle has unexpected batch metadata fields")
    if not state["batch_id"]:
        raise ResourceMetaError("resource_meta pickle has no batch_id")
    return {"openai_org": state["openai_org"], "batch_id": state["batch_id"]}


def _is_class(value: Any) -> bool:
    return isinstance(value, tuple) and value in FLYTEKIT_CLASSES


def _reject(opcode: str) -> ResourceMetaError:
    return ResourceMetaError(f"resource_meta pickle has an unsupported {opcode} opcode")
