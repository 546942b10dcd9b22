"""Inspect agent method signatures once, at load time, so calls need no reflection."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any


def accepted_keywords(fn: Callable[..., Any]) -> frozenset[str] | None:
    """The keyword arguments ``fn`` accepts, or None if it takes ``**kwargs`` (accepts all)."""
    params = inspect.signature(fn).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return frozenset(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def declares(fn: Callable[..., Any], name: str) -> bool:
    """Whether ``fn`` names a parameter ``name`` that can be passed by keyword (``**kwargs``
    alone does not count)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    param = params.get(name)
    return param is not None and param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)


def signature_problems(
    fn: Callable[..., Any], method: str, positional: tuple[str, ...], keywords: tuple[str, ...]
) -> list[str]:
    """Problems calling bound method ``fn`` as ``fn(*positional, **{k: ... for k in keywords})``
    where the keywords are passed only if accepted: missing positional slots, required
    parameters the host never passes."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return [f"{method}() has no inspectable signature"]
    params = list(sig.parameters.values())
    slots = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    has_varargs = any(p.kind is p.VAR_POSITIONAL for p in params)
    if len(slots) < len(positional) and not has_varargs:
        return [f"{method}() must accept {', '.join(positional)} (takes {len(slots)} argument(s))"]
    problems = []
    passed = set(keywords) | {p.name for p in slots[: len(positional)]}
    for p in params[len(positional) :] if not has_varargs else []:
        if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) or p.default is not p.empty:
            continue
        if p.name not in passed:
            problems.append(f"{method}() requires argument {p.name!r}, which the host never passes")
    return problems
