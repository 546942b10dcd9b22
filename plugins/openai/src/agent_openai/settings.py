"""Where the agents get their API key, endpoint, timeout and retry settings from.

Environment variables (read on every call, so tests and operators can change them):

* ``OPENAI_BASE_URL``: the API endpoint (default: the OpenAI client's own, api.openai.com);
* ``AGENT_OPENAI_ALLOWED_BASE_URLS``: comma-separated further endpoints a template's ``custom``
  may choose with ``base_url``;
* ``AGENT_OPENAI_TIMEOUT_SECONDS``: per-request timeout (default 120);
* ``AGENT_OPENAI_MAX_RETRIES``: the client's retries of 408/409/429/5xx/connection errors
  (default 2).

The API key is the call's connection secret ``openai_api_key`` (Flyte 2: the executor resolves
the task's ``secrets`` into the call's ``connection``), else the host secret
``FLYTE_OPENAI_API_KEY`` (flytekit's name: ``_FSEC_`` env var or secret file), else the
``OPENAI_API_KEY`` environment variable.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

from agenthost import current_connection
from agenthost.secrets import get_secret, remember_secret

API_KEY_SECRET = "FLYTE_OPENAI_API_KEY"
"""The host secret holding the API key (the name flytekit's OpenAI connectors use)."""

CONNECTION_KEY = "openai_api_key"
"""The call's ``connection`` secret holding a per-task API key."""

API_KEY_ENV = "OPENAI_API_KEY"
BASE_URL_ENV = "OPENAI_BASE_URL"
ALLOWED_BASE_URLS_ENV = "AGENT_OPENAI_ALLOWED_BASE_URLS"
TIMEOUT_ENV = "AGENT_OPENAI_TIMEOUT_SECONDS"
MAX_RETRIES_ENV = "AGENT_OPENAI_MAX_RETRIES"

DEFAULT_TIMEOUT_SECONDS = 120.0
DEFAULT_MAX_RETRIES = 2


class ConfigurationError(Exception):
    """The deployment or the template is misconfigured; the task fails with this message."""


@dataclass(frozen=True)
class ClientSettings:
    """Everything that configures one OpenAI client; requests with the same ``cache_key``
    share it."""

    api_key: str
    organization: str | None
    base_url: str | None
    timeout: float
    max_retries: int

    @property
    def cache_key(self) -> tuple[str, str | None, str | None, float, int]:
        """What identifies the client: the settings, with a fingerprint of the key instead of
        the key."""
        fingerprint = hashlib.sha256(self.api_key.encode("utf-8")).hexdigest()[:16]
        return (fingerprint, self.organization, self.base_url, self.timeout, self.max_retries)

    def __repr__(self) -> str:  # never show the key
        return (
            f"ClientSettings(organization={self.organization!r}, base_url={self.base_url!r}, "
            f"timeout={self.timeout}, max_retries={self.max_retries})"
        )


def api_key() -> str:
    """The API key from the call's connection, else the host secret, else ``$OPENAI_API_KEY``;
    ``ConfigurationError`` if none is set (the message names where to put it, never a value)."""
    key = current_connection().secrets.get(CONNECTION_KEY, "")
    if key:  # the host scrubs the call's connection values
        return key
    key = get_secret(API_KEY_SECRET, default="")
    if not key:
        key = os.environ.get(API_KEY_ENV, "")
        if key:
            remember_secret(key)
    if not key:
        raise ConfigurationError(
            f"no OpenAI API key: set the secret {API_KEY_SECRET} "
            f"(e.g. $_FSEC_{API_KEY_SECRET}) or ${API_KEY_ENV}, or send {CONNECTION_KEY} in "
            "the task's connection"
        )
    return key


def _normalise_url(url: str) -> str:
    return url.strip().rstrip("/")


def base_url(custom: dict[str, Any] | None = None) -> str | None:
    """The endpoint to call: ``custom["base_url"]`` if allowed, else ``$OPENAI_BASE_URL``.

    A template may only pick ``$OPENAI_BASE_URL`` itself or an endpoint listed in
    ``$AGENT_OPENAI_ALLOWED_BASE_URLS``: the API key is sent to that endpoint, so letting any
    task author choose it would let them collect the key.
    """
    default = os.environ.get(BASE_URL_ENV) or None
    requested = (custom or {}).get("base_url")
    if requested in (None, ""):
        return _normalise_url(default) if default else None
    if not isinstance(requested, str):
        raise ConfigurationError("custom 'base_url' must be a string")
    allowed = {
        _normalise_url(u) for u in os.environ.get(ALLOWED_BASE_URLS_ENV, "").split(",") if u.strip()
    }
    if default:
        allowed.add(_normalise_url(default))
    wanted = _normalise_url(requested)
    if wanted not in allowed:
        raise ConfigurationError(
            f"base_url {wanted!r} is not allowed: list it in ${ALLOWED_BASE_URLS_ENV}"
        )
    return wanted


def _number(env: str, default: float, minimum: float) -> float:
    raw = os.environ.get(env, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"${env} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigurationError(f"${env} must be at least {minimum:g}, got {raw!r}")
    return value


def client_settings(
    organization: str | None, custom: dict[str, Any] | None = None
) -> ClientSettings:
    """Resolve the settings of the client for ``organization`` and a template's ``custom``."""
    return ClientSettings(
        api_key=api_key(),
        organization=organization or None,
        base_url=base_url(custom),
        timeout=_number(TIMEOUT_ENV, DEFAULT_TIMEOUT_SECONDS, 0.001),
        max_retries=int(_number(MAX_RETRIES_ENV, DEFAULT_MAX_RETRIES, 0)),
    )
