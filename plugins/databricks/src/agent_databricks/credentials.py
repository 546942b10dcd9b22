"""Which credential a call uses, in this order:

1. the Flyte 2 ``connection`` secret ``databricks_token`` (per task, resolved by the backend);
2. for ``get``/``delete`` of runs flytekit >= 1.16.15 started, the ``auth_token`` its
   ``resource_meta`` carries (sent only to that run's own, allow-listed, instance);
3. the host's credentials, as flytekit names them:

   * ``pat`` (the default): the host secret ``FLYTE_DATABRICKS_ACCESS_TOKEN``
     (``$_FSEC_FLYTE_DATABRICKS_ACCESS_TOKEN`` or a secret file);
   * ``oauth_m2m``: a service principal's client id (``custom.databricksClientId``, else
     ``$DATABRICKS_CLIENT_ID``) and secret (host secret ``DATABRICKS_CLIENT_SECRET``, else
     ``$DATABRICKS_CLIENT_SECRET``), exchanged at the instance's ``/oidc/v1/token`` for a
     short-lived token (cached until a minute before it expires).

   The type comes from ``custom.databricksAuthType`` (create), the handle's ``auth_type``
   (flytekit's handles), else ``$FLYTE_DATABRICKS_AUTH_TYPE``, else ``pat``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from agent_databricks.errors import DatabricksConfigurationError
from agenthost import Connection, InvalidRequestError, get_secret
from agenthost.connection import current_connection, set_current_connection
from agenthost.secrets import remember_secret

TOKEN_SECRET = "FLYTE_DATABRICKS_ACCESS_TOKEN"
CONNECTION_TOKEN_KEY = "databricks_token"
AUTH_TYPE_ENV = "FLYTE_DATABRICKS_AUTH_TYPE"
CLIENT_ID_ENV = "DATABRICKS_CLIENT_ID"
CLIENT_SECRET = "DATABRICKS_CLIENT_SECRET"
AUTH_TYPES = ("pat", "oauth_m2m")


def scrub_in_this_call(name: str, token: str) -> None:
    """Add ``token`` to the current call's connection secrets (as ``name``), so that the host
    scrubs it from what this call replies and logs. For tokens that change (one a request
    carries, one minted for an hour): remembered process-wide (``remember_secret``), every
    such token would stay in memory, and in the scrub list of every later call, for the life
    of the process."""
    current = current_connection()
    if current.secrets.get(name) == token:
        return
    secrets = {**current.secrets, name: token}
    set_current_connection(Connection(secrets=secrets, configs=current.configs))


def fingerprint(value: str) -> str:
    """A short, one-way name for a credential (cache keys, never the value)."""
    return hashlib.sha256(value.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Credential:
    """A bearer token, or a service principal to exchange for one."""

    token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None

    @property
    def is_oauth(self) -> bool:
        """Whether this is an OAuth M2M service principal."""
        return self.token is None

    @property
    def key(self) -> str:
        """A cache key that identifies the credential without holding it."""
        if self.token is not None:
            return "token:" + fingerprint(self.token)
        return f"oauth:{self.client_id}:{fingerprint(self.client_secret or '')}"

    def __repr__(self) -> str:
        kind = "oauth_m2m" if self.is_oauth else "token"
        return f"Credential({kind}, {self.key})"


def connection_token(connection: Connection | None) -> str | None:
    """The ``databricks_token`` of a Flyte 2 ``connection`` (None without one)."""
    if connection is None:
        return None
    token = connection.secrets.get(CONNECTION_TOKEN_KEY)
    return token or None


def auth_type(requested: str | None, field: str) -> str:
    """The auth type a call uses: ``requested`` (from ``field``), else the deployment's."""
    source = field
    if not requested:
        requested = os.environ.get(AUTH_TYPE_ENV) or "pat"
        source = f"${AUTH_TYPE_ENV}"
    if requested not in AUTH_TYPES:
        message = f"{source} is {requested!r}; agenthost supports {', '.join(AUTH_TYPES)}"
        if source == field:
            raise InvalidRequestError(message)
        raise DatabricksConfigurationError(message)
    return requested


def host_credential(kind: str, client_id: str | None = None) -> Credential:
    """The host's own credential of ``kind`` (``pat`` or ``oauth_m2m``)."""
    if kind == "oauth_m2m":
        client_id = client_id or os.environ.get(CLIENT_ID_ENV) or None
        secret = get_secret(CLIENT_SECRET, default="") or os.environ.get(CLIENT_SECRET, "")
        if not client_id or not secret:
            raise DatabricksConfigurationError(
                "OAuth M2M needs a client id (custom.databricksClientId or "
                f"${CLIENT_ID_ENV}) and a client secret (secret {CLIENT_SECRET}, "
                f"e.g. $_FSEC_{CLIENT_SECRET}, or ${CLIENT_SECRET})"
            )
        remember_secret(secret)
        return Credential(client_id=client_id, client_secret=secret)
    token = get_secret(TOKEN_SECRET, default="")
    if not token:
        raise DatabricksConfigurationError(
            f"no Databricks token: set the secret {TOKEN_SECRET} (e.g. $_FSEC_{TOKEN_SECRET})"
        )
    return Credential(token=token)
