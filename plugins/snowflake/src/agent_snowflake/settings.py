"""Where the agent connects and with which key: environment variables and secrets.

Environment variables (read on every call, so operators and tests can change them):

* ``SNOWFLAKE_HOST``, ``SNOWFLAKE_PORT``, ``SNOWFLAKE_PROTOCOL``: send every connection to this
  endpoint instead of ``<account>.snowflakecomputing.com`` (a proxy, a private link name, or a
  local emulator such as fakesnow; ``SNOWFLAKE_PROTOCOL`` is ``https`` unless set to ``http``);
* ``AGENT_SNOWFLAKE_TIMEOUT_SECONDS``: login, network and socket timeout of each connection
  (default 6; retries back off by at most 2 s), so an unreachable Snowflake fails a call within
  about 7 s, inside propeller's default 10 s deadline.

Credentials are a key pair (Snowflake's ``SNOWFLAKE_JWT`` authentication): the PEM private key
``snowflake_private_key`` and its optional passphrase ``snowflake_private_key_passphrase``: both
from the call's Flyte 2 ``connection`` secrets when it carries a private key, else both from the
host's secrets (``agenthost.get_secret``: ``_FSEC_SNOWFLAKE_PRIVATE_KEY`` or the file
``/etc/secrets/snowflake_private_key``), never one of each.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from agent_snowflake.errors import SnowflakeConfigurationError
from agenthost import current_connection, get_secret, number_from_env
from agenthost.connection import EMPTY_CONNECTION, using_connection

HOST_ENV = "SNOWFLAKE_HOST"
PORT_ENV = "SNOWFLAKE_PORT"
PROTOCOL_ENV = "SNOWFLAKE_PROTOCOL"
TIMEOUT_ENV = "AGENT_SNOWFLAKE_TIMEOUT_SECONDS"
DEFAULT_TIMEOUT_SECONDS = 6.0

PRIVATE_KEY_SECRET = "snowflake_private_key"
"""Secret holding the PEM private key (the name flytekit's and flyte-sdk's connectors use)."""
PASSPHRASE_SECRET = "snowflake_private_key_passphrase"
"""Secret holding the private key's passphrase, if it is encrypted."""


@dataclass(frozen=True)
class Endpoint:
    """An operator-chosen Snowflake endpoint that replaces the account's own host."""

    host: str
    port: int
    protocol: str


def endpoint() -> Endpoint | None:
    """The endpoint from ``SNOWFLAKE_HOST``/``_PORT``/``_PROTOCOL``, or None if unset."""
    host = os.environ.get(HOST_ENV, "").strip()
    if not host:
        return None
    protocol = os.environ.get(PROTOCOL_ENV, "https").strip().lower() or "https"
    if protocol not in ("http", "https"):
        raise SnowflakeConfigurationError(f"{PROTOCOL_ENV} must be http or https, not {protocol!r}")
    default_port = "443" if protocol == "https" else "80"
    raw_port = os.environ.get(PORT_ENV, "").strip() or default_port
    if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
        raise SnowflakeConfigurationError(f"{PORT_ENV} must be a port number, not {raw_port!r}")
    return Endpoint(host=host, port=int(raw_port), protocol=protocol)


def timeout_seconds() -> float:
    """The per-connection login/network/socket timeout."""
    return number_from_env(TIMEOUT_ENV, DEFAULT_TIMEOUT_SECONDS, minimum=1.0)


@dataclass(frozen=True)
class KeyPair:
    """The private key a connection authenticates with. ``fingerprint`` identifies it in
    caches; ``repr`` never shows the key or the passphrase."""

    pem: str
    passphrase: str
    fingerprint: str

    def __repr__(self) -> str:
        return f"KeyPair(fingerprint={self.fingerprint!r})"

    def der(self) -> bytes:
        """The key as unencrypted PKCS#8 DER, the form ``snowflake.connector`` takes."""
        from cryptography.hazmat.primitives import serialization

        password = self.passphrase.encode() if self.passphrase else None
        try:
            key = serialization.load_pem_private_key(self.pem.strip().encode(), password=password)
        except (ValueError, TypeError):
            raise SnowflakeConfigurationError(
                f"secret {PRIVATE_KEY_SECRET} is not a PEM private key that "
                f"{PASSPHRASE_SECRET} (if set) unlocks"
            ) from None
        return key.private_bytes(
            encoding=serialization.Encoding.DER,
            format=serialization.PrivateFormat.PKCS8,
            encryption_algorithm=serialization.NoEncryption(),
        )


def key_pair() -> KeyPair:
    """The key pair for the current call: the call's connection's if it carries a private key
    (with the connection's passphrase, if any), else the host's. The two are never mixed: the
    host's passphrase never unlocks a task's key, nor a task's passphrase the host's."""
    own = current_connection().secrets
    if own.get(PRIVATE_KEY_SECRET, "").strip():
        pem, passphrase = own[PRIVATE_KEY_SECRET], own.get(PASSPHRASE_SECRET, "")
    else:
        with using_connection(EMPTY_CONNECTION):  # the host's secrets only
            pem = get_secret(PRIVATE_KEY_SECRET, default="")
            passphrase = get_secret(PASSPHRASE_SECRET, default="")
    if not pem.strip():
        raise SnowflakeConfigurationError(
            f"no Snowflake private key: set the host secret {PRIVATE_KEY_SECRET} "
            "(or pass it in the task's Flyte 2 connection)"
        )
    digest = hashlib.sha256(f"{pem.strip()}\0{passphrase}".encode()).hexdigest()[:16]
    return KeyPair(pem=pem, passphrase=passphrase, fingerprint=digest)
