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
from collections.abc import Callable
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
    machine = _Machine()
    for opcode, arg, _ in ops:
        name = opcode.name
        step = _STEPS.get(name)
        if step is None:
            raise _reject(name)
        step(machine, name, arg)
    return machine.metadata()


class _Machine:
    """The pickle machine's stack and memo for the opcodes flytekit's metadata uses, holding
    plain values only: a class is its ``(module, qualname)`` and the object an ``_Object``."""

    def __init__(self) -> None:
        self.stack: list[Any] = []
        self.memo: dict[Any, Any] = {}
        self.result: _Object | None = None

    def metadata(self) -> dict[str, str | None]:
        """The fields of the object the pickle built; ``ResourceMetaError`` unless it built
        exactly one flytekit metadata object with its two fields."""
        result = self.result
        if result is None or result.state is None or self.stack != [result]:
            raise ResourceMetaError("resource_meta pickle does not hold flytekit batch metadata")
        state = result.state
        if set(state) != FIELDS or not all(v is None or isinstance(v, str) for v in state.values()):
            raise ResourceMetaError("resource_meta pickle has unexpected batch metadata fields")
        if not state["batch_id"]:
            raise ResourceMetaError("resource_meta pickle has no batch_id")
        return {"openai_org": state["openai_org"], "batch_id": state["batch_id"]}

    def ignore(self, name: str, arg: Any) -> None:
        """PROTO, FRAME, STOP: nothing to do."""

    def push_argument(self, name: str, arg: Any) -> None:
        """A string opcode: its text (bytes decoded as UTF-8)."""
        self.stack.append(arg.decode("utf-8", "replace") if isinstance(arg, bytes) else arg)

    def push_none(self, name: str, arg: Any) -> None:
        self.stack.append(None)

    def push_mark(self, name: str, arg: Any) -> None:
        self.stack.append(_MARK)

    def push_empty_dict(self, name: str, arg: Any) -> None:
        self.stack.append({})

    def push_empty_tuple(self, name: str, arg: Any) -> None:
        self.stack.append(())

    def memo_put(self, name: str, arg: Any) -> None:
        if not self.stack:
            raise _reject(name)
        self.memo[len(self.memo) if name == "MEMOIZE" else arg] = self.stack[-1]

    def memo_get(self, name: str, arg: Any) -> None:
        if arg not in self.memo:
            raise _reject(name)
        self.stack.append(self.memo[arg])

    def push_class(self, name: str, arg: Any) -> None:
        """GLOBAL, STACK_GLOBAL: the class by name, only if it is flytekit's (never imported)."""
        stack = self.stack
        if name == "GLOBAL":
            module, _, qualname = str(arg).partition(" ")
        else:
            if len(stack) < 2:
                raise _reject(name)
            qualname, module = stack.pop(), stack.pop()
        if (module, qualname) not in FLYTEKIT_CLASSES:
            raise ResourceMetaError("resource_meta is a pickle of an unexpected class")
        stack.append((module, qualname))

    def new_object(self, name: str, arg: Any) -> None:
        """NEWOBJ, NEWOBJ_EX: a placeholder for flytekit's object, built without arguments."""
        stack = self.stack
        if len(stack) < 2 or stack[-1] != () or not _is_class(stack[-2]):
            raise _reject(name)
        stack.pop()
        stack.pop()
        self.result = _Object()
        stack.append(self.result)

    def set_items(self, name: str, arg: Any) -> None:
        """SETITEM, SETITEMS: key/value pairs into the dict below them (string keys only, as
        the state of flytekit's object has)."""
        stack = self.stack
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
        if not all(isinstance(key, str) for key in items[::2]):  # a dict key would not hash
            raise _reject(name)
        target = stack[-1]
        for key, value in zip(items[::2], items[1::2], strict=True):
            target[key] = value

    def build(self, name: str, arg: Any) -> None:
        """BUILD: the state dict becomes the placeholder object's state."""
        stack = self.stack
        if len(stack) < 2 or not isinstance(stack[-1], dict):
            raise _reject(name)
        state = stack.pop()
        obj = stack[-1]
        if not isinstance(obj, _Object):
            raise _reject(name)
        obj.state = state


_Step = Callable[[_Machine, str, Any], None]
_STEPS: dict[str, _Step] = {
    **dict.fromkeys(_IGNORED, _Machine.ignore),
    **dict.fromkeys(_STRINGS, _Machine.push_argument),
    **dict.fromkeys(_MEMO_PUT, _Machine.memo_put),
    **dict.fromkeys(_MEMO_GET, _Machine.memo_get),
    "NONE": _Machine.push_none,
    "MARK": _Machine.push_mark,
    "EMPTY_DICT": _Machine.push_empty_dict,
    "EMPTY_TUPLE": _Machine.push_empty_tuple,
    "GLOBAL": _Machine.push_class,
    "STACK_GLOBAL": _Machine.push_class,
    "NEWOBJ": _Machine.new_object,
    "NEWOBJ_EX": _Machine.new_object,
    "SETITEM": _Machine.set_items,
    "SETITEMS": _Machine.set_items,
    "BUILD": _Machine.build,
}
"""What each accepted opcode does; any opcode not here is rejected."""


def _is_class(value: Any) -> bool:
    return isinstance(value, tuple) and value in FLYTEKIT_CLASSES


def _reject(opcode: str) -> ResourceMetaError:
    return ResourceMetaError(f"resource_meta pickle has an unsupported {opcode} opcode")
