"""Read secrets the way flytekit deployments provide them, so existing deployments keep working.

A secret ``key`` (optionally in ``group``) is looked up, in order:

0. the current call's connection secrets (``key`` exactly; Flyte 2 executors send them, see
   ``agenthost.connection``);
1. the environment variable ``<prefix><GROUP>_<KEY>`` (upper case; prefix from
   ``FLYTE_SECRETS_ENV_PREFIX``, default ``_FSEC_``), e.g. ``_FSEC_FLYTE_OPENAI_API_KEY``;
2. the file ``<dir>/<group>/<file prefix><key>`` (lower case; dir from
   ``FLYTE_SECRETS_DEFAULT_DIR``, default ``/etc/secrets``; file prefix from
   ``FLYTE_SECRETS_FILE_PREFIX``, default empty).

Every value read is remembered so the server can scrub it from anything it sends to clients
and from its logs. Values are never logged or put into error messages.

Secret files: one that group or others may *write* is refused (``InsecureSecretFileError``:
anyone with that access could have replaced the credential); one that group or others may
*read* is used, with one warning per file naming the file and its mode (Kubernetes mounts
secret volumes 0644 unless ``defaultMode`` says otherwise, so refusing would break existing
deployments; ``defaultMode: 0400`` silences the warning).
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
from collections.abc import Iterable
from pathlib import Path

from agenthost.errors import MisconfiguredError

SECRET_PLACEHOLDER = "***"
"""What a secret value is replaced with wherever it is masked."""

_known_values: set[str] = set()
_known_encoded: tuple[bytes, ...] = ()
"""Every spelling of every known value of ``REFUSED_SECRET_LENGTH`` characters or more, UTF-8
encoded (``deployment_secret_in``): replaced, never changed in place, so that a reader needs no
lock."""

REFUSED_SECRET_LENGTH = 8
"""Shortest known secret value whose presence in a ``resource_meta`` fails the call: shorter
values (a placeholder such as ``none`` in an unused secret) are masked in text but would refuse
ordinary JSON by chance."""
_warned_files: set[str] = set()
_lock = threading.Lock()
logger = logging.getLogger("agenthost.secrets")


class SecretNotFoundError(MisconfiguredError):
    """No environment variable or file holds the requested secret: the deployment must provide
    it, so clients get ``FAILED_PRECONDITION`` naming the key (never a value)."""


class InsecureSecretFileError(MisconfiguredError):
    """The secret's file may be written by group or others, so its content is not trusted
    (``FAILED_PRECONDITION``: the deployment must fix the file's mode)."""


def _read_secret_file(path: Path) -> str | None:
    """The stripped content of ``path`` (None if it cannot be read), after checking its mode
    on the opened file (see the module docstring)."""
    try:
        with open(path, encoding="utf-8") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if mode & (stat.S_IWGRP | stat.S_IWOTH):
                raise InsecureSecretFileError(
                    f"secret file {path} is writable by group or others "
                    f"(mode {stat.S_IMODE(mode):04o}); refusing to use it"
                )
            if mode & (stat.S_IRGRP | stat.S_IROTH):
                _warn_readable(path, mode)
            return handle.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _warn_readable(path: Path, mode: int) -> None:
    with _lock:
        if str(path) in _warned_files:
            return
        _warned_files.add(str(path))
    logger.warning(
        "secret file %s is readable by group or others (mode %04o); restrict it to its owner "
        "(chmod 0400, or defaultMode: 0400 on a Kubernetes secret volume)",
        path,
        stat.S_IMODE(mode),
    )


def _env_name(key: str, group: str | None) -> str:
    prefix = os.environ.get("FLYTE_SECRETS_ENV_PREFIX", "_FSEC_")
    return f"{prefix}{group + '_' if group else ''}{key}".upper()


def _file_path(key: str, group: str | None) -> Path:
    base = Path(os.environ.get("FLYTE_SECRETS_DEFAULT_DIR", "/etc/secrets"))
    prefix = os.environ.get("FLYTE_SECRETS_FILE_PREFIX", "")
    directory = base / group.lower() if group else base
    return directory / f"{prefix}{key.lower()}"


def get_secret(key: str, group: str | None = None, *, default: str | None = None) -> str:
    """Return the secret ``key``: the current call's connection secret of that name if there
    is one, else the deployment's (see the module docstring for where it is looked up).

    Returns ``default`` if given and the secret is absent; otherwise raises
    ``SecretNotFoundError`` naming the key and the places searched (never a value). Raises
    ``InsecureSecretFileError`` if the secret's file is writable by group or others.
    """
    from agenthost.connection import current_connection

    value = current_connection().secrets.get(key)
    if value is not None:
        return value
    env_name = _env_name(key, group)
    value = os.environ.get(env_name)
    if value is None:
        path = _file_path(key, group)
        value = _read_secret_file(path)
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
    global _known_encoded
    if len(value) >= 4:
        with _lock:
            if value not in _known_values:
                _known_values.add(value)
                if len(value) >= REFUSED_SECRET_LENGTH:
                    forms = (form.encode() for form in spellings(value))
                    _known_encoded = (*_known_encoded, *forms)


def secrets_known() -> bool:
    """Whether any secret value of ``REFUSED_SECRET_LENGTH`` characters or more is known
    (``remember_secret``) in this process."""
    return bool(_known_encoded)


def deployment_secret_in(data: bytes) -> bool:
    """Whether ``data`` (bytes bound for a client, such as a ``resource_meta``) holds a known
    secret value of ``REFUSED_SECRET_LENGTH`` characters or more (``remember_secret``), as it
    is or JSON-escaped. Costs one truthiness check while no such secret is known."""
    encoded = _known_encoded
    return bool(encoded) and any(form in data for form in encoded)


def known_secret_values() -> frozenset[str]:
    """Every secret value read (or remembered) so far in this process."""
    with _lock:
        return frozenset(_known_values)


def spellings(value: str) -> tuple[str, ...]:
    """``value`` and how text that quotes it spells it: escaped by JSON (with and without
    ``\\u`` escapes, as JSON logs carry a message or traceback) and by ``repr`` (as an
    exception message built with ``%r`` does). A secret with a line break, a quote, a backslash
    or a non-ASCII character (a PEM key, a service-account JSON) appears in JSON logs only so."""
    if value.isascii() and value.isprintable() and not any(c in value for c in "\"'\\"):
        return (value,)
    forms = dict.fromkeys(
        (
            value,
            json.dumps(value)[1:-1],
            json.dumps(value, ensure_ascii=False)[1:-1],
            repr(value)[1:-1],
        )
    )
    return tuple(forms)


def mask_values(text: str, values: Iterable[str]) -> str:
    """``text`` with each of ``values`` of 4 characters or more, in each of its
    ``spellings``, replaced by ``***`` (longer values first, so none is left half-masked)."""
    for value in sorted(values, key=len, reverse=True):
        if len(value) >= 4:
            for form in spellings(value):
                if form in text:
                    text = text.replace(form, SECRET_PLACEHOLDER)
    return text


def current_secret_values() -> list[str]:
    """Every secret value known now, longest first: the deployment's (read through
    ``get_secret``) and the current call's connection's."""
    from agenthost.connection import current_connection

    values = {*known_secret_values(), *current_connection().secrets.values()}
    return sorted(values, key=len, reverse=True)


def mask_secrets(text: str) -> str:
    """``text`` with every secret value known now (``current_secret_values``) replaced by
    ``***``. For text built from an exception before it is cut to a summary, where a secret
    would keep only a part that no later scrubbing recognises; the server scrubs what it sends
    in any case."""
    if not text:
        return text
    return mask_values(text, current_secret_values())
