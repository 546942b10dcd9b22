"""Read the request parameters a template's ``custom`` carries (``chatgpt_config``,
``config``, ``openai_organization``)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from agent_openai.errors import ConfigurationError
from agent_openai.headers import is_header_safe
from agenthost import InvalidRequestError

CLIENT_ONLY_PARAMETERS = frozenset({"extra_headers", "extra_query", "extra_body", "timeout"})
"""Client-side options of the ``openai`` methods that a template may not set."""


def integral_floats_to_int(value: Any) -> Any:
    """``value`` with every float that is a whole number turned into an int, recursively.

    A template's ``custom`` is a protobuf Struct, which stores every number as a double, so
    ``max_tokens: 64`` arrives as ``64.0``; strict OpenAI-compatible servers reject that.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: integral_floats_to_int(v) for k, v in value.items()}
    if isinstance(value, list):
        return [integral_floats_to_int(v) for v in value]
    return value


def split_parameters(
    method: Callable[..., Any], params: dict[str, Any], *, where: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``params`` into the keyword arguments ``method`` names and the rest, which are sent
    as extra JSON body fields (parameters newer than the client, or a compatible server's own).
    Raises ``ConfigurationError`` for client-only options such as ``timeout``."""
    forbidden = sorted(CLIENT_ONLY_PARAMETERS.intersection(params))
    if forbidden:
        raise ConfigurationError(f"{where} may not set {', '.join(map(repr, forbidden))}")
    named = {
        name
        for name, p in inspect.signature(method).parameters.items()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }
    known = {k: v for k, v in params.items() if k in named}
    extra = {k: v for k, v in params.items() if k not in named}
    return known, extra


def parameters(value: Any, *, where: str) -> dict[str, Any]:
    """A fresh copy of the request parameters ``value`` (a dict; ``None`` counts as empty) with
    whole-number floats as ints; ``ConfigurationError`` if it is not a dict."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigurationError(f"{where} must be an object, got {type(value).__name__}")
    return {str(k): integral_floats_to_int(v) for k, v in value.items()}


def optional_string(value: Any, *, where: str) -> str | None:
    """``value`` if it is a non-empty string, None if empty or null, else ``ConfigurationError``."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"{where} must be a string, got {type(value).__name__}")
    return value


def organization(value: Any, *, where: str) -> str | None:
    """The OpenAI organization ``value`` names (``None`` if empty), which the client sends as the
    ``OpenAI-Organization`` header: ``InvalidRequestError`` naming ``where`` if it holds a line
    break, a control or a non-ASCII character (which could never be sent, so retrying is
    pointless); ``ConfigurationError`` if it is not a string."""
    text = optional_string(value, where=where)
    if text is not None and not is_header_safe(text):
        raise InvalidRequestError(
            f"{where} holds a line break, a control or a non-ASCII character, which an HTTP "
            "header cannot carry"
        )
    return text
