"""Where the agents get their API key, endpoint, timeout and retry settings from.

Environment variables (read on every call, so tests and operators can change them):

* ``OPENAI_BASE_URL``: the API endpoint (default: the OpenAI client's own, api.openai.com);
* ``AGENT_OPENAI_ALLOWED_BASE_URLS``: comma-separated further endpoints a template's ``custom``
  may choose with ``base_url``;
* ``AGENT_OPENAI_TIMEOUT_SECONDS``: per-request timeout (default 120);
* ``AGENT_OPENAI_CONNECT_TIMEOUT_SECONDS``: how long to wait for a connection (default 4, at
  most the request timeout), so an unreachable API is reported within seconds;
* ``AGENT_OPENAI_MAX_RETRIES``: the client's retries of 408/409/429/5xx/connection errors
  (default 2).

The API key is the call's connection secret ``openai_api_key`` (Flyte 2: the executor resolves
the task's ``secrets`` into the call's ``connection``), else the host secret
``FLYTE_OPENAI_API_KEY`` (flytekit's name: ``_FSEC_`` env var or secret file), else the
``OPENAI_API_KEY`` environment variable.

A setting of the deployment that is wrong (no key, a key or ``OPENAI_ORG_ID`` that cannot be an
HTTP header, a bad number) is a ``MisconfiguredError`` (gRPC FAILED_PRECONDITION); a wrong value in
a template or the call's connection is a ``ConfigurationError`` (the task FAILS) or, for header
values, an ``InvalidRequestError`` (gRPC INVALID_ARGUMENT).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

from agent_openai.errors import ConfigurationError, DeploymentError
from agent_openai.headers import is_header_safe
from agenthost import InvalidRequestError, current_connection, number_from_env
from agenthost.secrets import get_secret, remember_secret

API_KEY_SECRET = "FLYTE_OPENAI_API_KEY"
"""The host secret holding the API key (the name flytekit's OpenAI connectors use)."""

CONNECTION_KEY = "openai_api_key"
"""The call's ``connection`` secret holding a per-task API key."""

API_KEY_ENV = "OPENAI_API_KEY"
BASE_URL_ENV = "OPENAI_BASE_URL"
ALLOWED_BASE_URLS_ENV = "AGENT_OPENAI_ALLOWED_BASE_URLS"
TIMEOUT_ENV = "AGENT_OPENAI_TIMEOUT_SECONDS"
CONNECT_TIMEOUT_ENV = "AGENT_OPENAI_CONNECT_TIMEOUT_SECONDS"
MAX_RETRIES_ENV = "AGENT_OPENAI_MAX_RETRIES"
HEADER_ENVS = ("OPENAI_ORG_ID", "OPENAI_PROJECT_ID")
"""Variables the ``openai`` client sends as headers when the template names no organization."""

DEFAULT_TIMEOUT_SECONDS = 120.0
DEFAULT_CONNECT_TIMEOUT_SECONDS = 4.0
DEFAULT_MAX_RETRIES = 2


@dataclass(frozen=True)
class ClientSettings:
    """Everything that configures one OpenAI client; requests with the same ``cache_key``
    share it."""

    api_key: str
    organization: str | None
    base_url: str | None
    timeout: float
    max_retries: int
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS

    @property
    def cache_key(self) -> tuple[str, str | None, str | None, float, int, float]:
        """What identifies the client: the settings, with a fingerprint of the key instead of
        the key."""
        fingerprint = hashlib.sha256(self.api_key.encode("utf-8")).hexdigest()[:16]
        return (
            fingerprint,
            self.organization,
            self.base_url,
            self.timeout,
            self.max_retries,
            self.connect_timeout,
        )

    def __repr__(self) -> str:  # never show the key
        return (
            f"ClientSettings(organization={self.organization!r}, base_url={self.base_url!r}, "
            f"timeout={self.timeout}, max_retries={self.max_retries}, "
            f"connect_timeout={self.connect_timeout})"
        )


def api_key() -> str:
    """The API key from the call's connection, else the host secret, else ``$OPENAI_API_KEY``.
    ``InvalidRequestError`` if the connection's key cannot be an HTTP header; ``DeploymentError``
    if no key is set or the deployment's cannot be a header (the messages name where the key
    comes from, never a value)."""
    key = current_connection().secrets.get(CONNECTION_KEY, "")
    if key:  # the host scrubs the call's connection values
        if not is_header_safe(key):
            raise InvalidRequestError(
                f"connection secret {CONNECTION_KEY} holds a line break, a control or a "
                "non-ASCII character"
            )
        return key
    key = get_secret(API_KEY_SECRET, default="")
    if not key:
        key = os.environ.get(API_KEY_ENV, "")
        if key:
            remember_secret(key)
    if not key:
        raise DeploymentError(
            f"no OpenAI API key: set the secret {API_KEY_SECRET} "
            f"(e.g. $_FSEC_{API_KEY_SECRET}) or ${API_KEY_ENV}, or send {CONNECTION_KEY} in "
            "the task's connection"
        )
    if not is_header_safe(key):
        raise DeploymentError(
            f"the OpenAI API key (secret {API_KEY_SECRET} or ${API_KEY_ENV}) holds a line break, "
            "a control or a non-ASCII character"
        )
    return key


def _check_header_envs() -> None:
    for name in HEADER_ENVS:
        if not is_header_safe(os.environ.get(name, "")):
            raise DeploymentError(f"${name} holds a line break, a control or a non-ASCII character")


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


def client_settings(
    organization: str | None, custom: dict[str, Any] | None = None
) -> ClientSettings:
    """Resolve the settings of the client for ``organization`` (already checked by the caller,
    see ``agent_openai.template.organization``) and a template's ``custom``."""
    _check_header_envs()
    timeout = number_from_env(TIMEOUT_ENV, DEFAULT_TIMEOUT_SECONDS, 0.001)
    return ClientSettings(
        api_key=api_key(),
        organization=organization or None,
        base_url=base_url(custom),
        timeout=timeout,
        max_retries=int(number_from_env(MAX_RETRIES_ENV, DEFAULT_MAX_RETRIES, 0)),
        connect_timeout=min(
            timeout, number_from_env(CONNECT_TIMEOUT_ENV, DEFAULT_CONNECT_TIMEOUT_SECONDS, 0.001)
        ),
    )
