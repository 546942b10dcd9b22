"""The one error the literal codec raises, and the short value descriptions in its messages."""

from __future__ import annotations

import reprlib
from typing import Any

from agenthost.errors import InvalidRequestError

__all__ = ["LiteralConversionError", "describe_value"]

_REPR = reprlib.Repr()
_REPR.maxstring = 40
_REPR.maxother = 40
_REPR.maxlist = 4
_REPR.maxtuple = 4
_REPR.maxdict = 4
_REPR.maxset = 4
_REPR.maxlevel = 2


class LiteralConversionError(InvalidRequestError):
    """A value or literal does not match the type it was converted against.

    The message is one short line naming the variable and both types, e.g.
    ``input 'x': expected integer, got str 'abc'``.
    """


def describe_value(value: Any) -> str:
    """Return a bounded, one-line description of a Python value: its type name and repr."""
    if value is None:
        return "None"
    text = _REPR.repr(value).replace("\n", " ")
    return f"{type(value).__name__} {text}"
