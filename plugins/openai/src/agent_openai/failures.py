"""Turn OpenAI client errors into short task-failure messages and a retryable flag.

Rate limits (429), server errors (5xx), request timeouts and conflicts the API itself calls
transient (408, 409) and connection problems are retryable; other 4xx are not. An API that
could not be reached or did not answer in time is ``unreachable``: the agents raise
``BackendUnavailableError`` for it (gRPC UNAVAILABLE) rather than blame the task. Messages carry
the API's own error text, never a traceback, and never the API key.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from agent_openai.errors import ConfigurationError
from agenthost import BackendUnavailableError, Resource

MAX_MESSAGE_CHARS = 500
RETRYABLE_STATUS = frozenset({408, 409, 429})


@dataclass(frozen=True)
class Failure:
    """Why a call failed, as the task should report it."""

    message: str
    retryable: bool
    code: str

    def resource(self) -> Resource:
        """The terminal ``Resource`` for this failure."""
        return Resource.failure(self.message, retryable=self.retryable, code=self.code)

    @property
    def unreachable(self) -> bool:
        """Whether the API could not be reached or did not answer in time."""
        return self.code in ("Connection", "Timeout")

    def unavailable(self) -> BackendUnavailableError:
        """This failure as the SDK's "backend unavailable" error."""
        return BackendUnavailableError(self.message)


def scrub(text: str, *secrets: str) -> str:
    """``text`` with every secret value replaced by ``***`` and cut to a bounded length."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = " ".join(text.split())
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1] + "…"
    return text


def _api_message(error: Any) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
    message = getattr(error, "message", None)
    return message if isinstance(message, str) and message else type(error).__name__


def describe(error: BaseException, *, action: str, api_key: str = "") -> Failure | None:
    """The ``Failure`` for an exception raised while ``action`` (e.g. ``"chat completion"``),
    or None if it is not an OpenAI client or configuration error (a bug: let it propagate)."""
    if isinstance(error, ConfigurationError):
        return Failure(scrub(str(error), api_key), retryable=False, code="Configuration")
    openai = sys.modules.get("openai")
    if openai is None:  # the client library was never used, so the error is not its
        return None
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        retryable = status in RETRYABLE_STATUS or status >= 500
        code = getattr(error, "code", None) or getattr(error, "type", None) or ""
        label = f"HTTP {status}" + (f" {code}" if code else "")
        text = f"OpenAI {action} failed ({label}): {_api_message(error)}"
        return Failure(scrub(text, api_key), retryable=retryable, code=f"HTTP{status}")
    if isinstance(error, openai.APITimeoutError):
        return Failure(f"OpenAI {action} timed out", retryable=True, code="Timeout")
    if isinstance(error, openai.APIConnectionError):
        return Failure(
            f"OpenAI {action} failed: could not connect to the API",
            retryable=True,
            code="Connection",
        )
    if isinstance(error, openai.OpenAIError):
        text = f"OpenAI {action} failed: {type(error).__name__}: {error}"
        return Failure(scrub(text, api_key), retryable=False, code=type(error).__name__)
    return None
