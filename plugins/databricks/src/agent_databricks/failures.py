"""Databricks' error answers (``{"error_code": ..., "message": ...}``) and transport errors,
sorted for the agent: transient or not, not-found or not, with a short message in Databricks'
own words (never a URL with credentials, a traceback or a token)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

MAX_MESSAGE_CHARS = 500
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
_CONTROL_CHARS = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|[\x00-\x08\x0b-\x1f\x7f]")


def clean_message(text: str) -> str:
    """``text`` on one line, without control characters, cut to a bounded length."""
    text = " ".join(_CONTROL_CHARS.sub("", text).split())
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1] + "…"
    return text


@dataclass(frozen=True)
class ApiError(Exception):
    """Databricks answered with an HTTP error status."""

    status: int
    error_code: str
    message: str

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.error_code}: {self.message}"

    @property
    def transient(self) -> bool:
        """Whether asking again later may succeed (rate limits, 5xx)."""
        return self.status in TRANSIENT_STATUS or self.error_code in (
            "TEMPORARILY_UNAVAILABLE",
            "REQUEST_LIMIT_EXCEEDED",
        )

    @property
    def unauthenticated(self) -> bool:
        """Whether the credential was refused."""
        return self.status in (401, 403)

    @property
    def not_found(self) -> bool:
        """Whether the run does not exist (Databricks says so with 404, or with 400
        ``INVALID_PARAMETER_VALUE`` "Run ... does not exist")."""
        if self.status == 404 or self.error_code == "RESOURCE_DOES_NOT_EXIST":
            return True
        return self.status == 400 and "does not exist" in self.message.lower()


def api_error(status: int, body: bytes, reason: str) -> ApiError:
    """The ``ApiError`` for an error answer with ``body`` (Databricks' JSON error, an OAuth
    error, or anything else)."""
    code, message = "", ""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict):
        code = str(data.get("error_code") or data.get("error") or "")
        message = str(data.get("message") or data.get("error_description") or "")
    return ApiError(
        status=status,
        error_code=clean_message(code) or f"HTTP_{status}",
        message=clean_message(message or reason or "no message"),
    )
