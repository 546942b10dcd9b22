"""The deployment's BigQuery settings, read from the environment, the host secrets and the
call's connection on every call.

Credentials, in order:

1. ``BIGQUERY_EMULATOR_HOST`` set (``http://127.0.0.1:9050`` or ``127.0.0.1:9050``): talk to that
   endpoint with anonymous credentials (local emulators and tests).
2. The call's connection secret ``google_application_credentials`` (Flyte 2: the executor
   resolves the task's ``secrets`` into the call's ``connection``), a service-account JSON key.
3. The host secret ``BIGQUERY_SERVICE_ACCOUNT_JSON`` (``agenthost.get_secret``: env var
   ``_FSEC_BIGQUERY_SERVICE_ACCOUNT_JSON`` or file ``/etc/secrets/bigquery_service_account_json``)
   holding a service-account JSON key.
4. Application Default Credentials (``GOOGLE_APPLICATION_CREDENTIALS``, workload identity, ...).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from agenthost import current_connection, get_secret, number_from_env

RETRY_DEADLINE_S = 8.0
"""How long one agent call keeps retrying transient BigQuery errors before giving up: within
propeller's default 10 s deadline for agent calls (propeller polls ``get`` again anyway)."""

DEADLINE_ENV = "AGENT_BIGQUERY_RETRY_DEADLINE_SECONDS"
"""Overrides ``RETRY_DEADLINE_S`` (read on every call); requests time out within it too."""

PRELOAD_ENV = "AGENT_BIGQUERY_PRELOAD"
"""Set to ``1`` to import ``google.cloud.bigquery`` in a background thread at plugin load, so
the first task does not pay for it (off by default: it competes with the host's start-up)."""


def retry_deadline() -> float:
    """``$AGENT_BIGQUERY_RETRY_DEADLINE_SECONDS``, else ``RETRY_DEADLINE_S``."""
    return number_from_env(DEADLINE_ENV, RETRY_DEADLINE_S, minimum=0.001)


EMULATOR_HOST_ENV = "BIGQUERY_EMULATOR_HOST"
"""Environment variable naming a BigQuery emulator endpoint; set, it wins over credentials."""

SERVICE_ACCOUNT_SECRET = "BIGQUERY_SERVICE_ACCOUNT_JSON"
"""Host secret key holding a service-account JSON key (read with ``agenthost.get_secret``)."""

CONNECTION_KEY = "google_application_credentials"
"""The call's ``connection`` secret holding a service-account JSON key (flyte-sdk's name)."""


@dataclass(frozen=True)
class CredentialSource:
    """Where a client's credentials come from; ``key`` identifies them in the client cache
    (a fingerprint for secrets, never the secret itself)."""

    kind: str  # "emulator" | "service_account" | "adc"
    key: str
    endpoint: str | None = None
    secret_json: str | None = None
    secret_name: str = f"secret {SERVICE_ACCOUNT_SECRET}"
    """Where ``secret_json`` came from, for error messages."""

    def __repr__(self) -> str:
        return f"CredentialSource(kind={self.kind!r}, key={self.key!r})"


def _service_account(secret: str, name: str) -> CredentialSource:
    fingerprint = hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]
    return CredentialSource(
        "service_account", f"sa:{fingerprint}", secret_json=secret, secret_name=name
    )


def credential_source() -> CredentialSource:
    """Decide, from the environment, the call's connection and host secrets, how clients
    authenticate now."""
    emulator = os.environ.get(EMULATOR_HOST_ENV, "").strip()
    if emulator:
        endpoint = emulator if "://" in emulator else f"http://{emulator}"
        return CredentialSource("emulator", f"emulator:{endpoint}", endpoint=endpoint.rstrip("/"))
    per_task = current_connection().secrets.get(CONNECTION_KEY)
    if per_task:
        return _service_account(per_task, f"connection secret {CONNECTION_KEY}")
    secret = get_secret(SERVICE_ACCOUNT_SECRET, default="")
    if secret:
        return _service_account(secret, f"secret {SERVICE_ACCOUNT_SECRET}")
    return CredentialSource("adc", "adc")
