"""Read secrets the way flytekit deployments provide them, so existing deployments keep working.

A secret ``key`` (optionally in ``group``) is looked up, in order:

1. the environment variable ``<prefix><GROUP>_<KEY>`` (upper case; prefix from
   ``FLYTE_SECRETS_ENV_PREFIX``, default ``_FSEC_``), e.g. ``_FSEC_FLYTE_OPENAI_API_KEY``;
2. the file ``<dir>/<group>/<file prefix><key>`` (lower case; dir from
   ``FLYTE_SECRETS_DEFAULT_DIR``, default ``/etc/secrets``; file prefix from
   ``FLYTE_SECRETS_FILE_PREFIX``, default empty).

Every value read is remembered so the server can scrub it from anything it sends to clients.
Values are never logged or put into error messages.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from agenthost.errors import AgentHostError

_known_values: set[str] = set()
_lock = threading.Lock()


class SecretNotFoundError(AgentHostError):
    """No environment variable or file holds the requested secret."""


def _env_name(key: str, group: str | None) -> str:
    prefix = os.environ.get("FLYTE_SECRETS_ENV_PREFIX", "_FSEC_")
    return f"{prefix}{group + '_' if group else ''}{key}".upper()


def _file_path(key: str, group: str | None) -> Path:
    base = Path(os.environ.get("FLYTE_SECRETS_DEFAULT_DIR", "/etc/secrets"))
    prefix = os.environ.get("FLYTE_SECRETS_FILE_PREFIX", "")
    directory = base / group.lower() if group else base
    return directory / f"{prefix}{key.lower()}"


def get_secret(key: str, group: str | None = None, *, default: str | None = None) -> str:
    """Return the secret ``key`` (see the module docstring for where it is looked up).

    Returns ``default`` if given and the secret is absent; otherwise raises
    ``SecretNotFoundError`` naming the key and the places searched (never a value).
    """
    env_name = _env_name(key, group)
    value = os.environ.get(env_name)
    if value is None:
        path = _file_path(key, group)
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError:
            value = None
        if value is None:
            if default is not None:
                return default
            raise SecretNotFoundError(
                f"secret {key!r} not found: set ${env_name} or mount {path.name} "
                "in the secrets directory"
            )
    remember_secret(value)
    return value


def remember_secret(value: str) -> None:
    """Mark ``value`` as secret so the server scrubs it from client-visible messages."""
    if len(value) >= 4:
        with _lock:
            _known_values.add(value)


def known_secret_values() -> frozenset[str]:
    """Every secret value read (or remembered) so far in this process."""
    with _lock:
        return frozenset(_known_values)
