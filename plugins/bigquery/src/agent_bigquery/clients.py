"""BigQuery clients: one cached client per (project, location, credentials), built with the
credentials ``settings.credential_source`` chooses. Clients are cached by a fingerprint of the
key, never by the key itself.

``google.cloud.bigquery`` is imported on the first client built, never at plugin import.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from agent_bigquery.errors import BigQueryConfigurationError
from agent_bigquery.settings import (
    CONNECTION_KEY,
    PRELOAD_ENV,
    SERVICE_ACCOUNT_SECRET,
    CredentialSource,
    credential_source,
)
from agent_bigquery.version import __version__

if TYPE_CHECKING:
    from google.cloud.bigquery import Client

BIGQUERY_SCOPES = ("https://www.googleapis.com/auth/bigquery",)
MAX_CACHED_CLIENTS = 32
USER_AGENT = f"agenthost-bigquery/{__version__}"


def _service_account_credentials(secret_json: str, name: str) -> Any:
    from google.oauth2 import service_account

    try:
        info = json.loads(secret_json)
        return service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            info, scopes=list(BIGQUERY_SCOPES)
        )
    except (ValueError, TypeError, KeyError):
        raise BigQueryConfigurationError(
            f"{name} is not a valid service-account JSON key"
        ) from None


def google_credentials(source: CredentialSource) -> Any:
    """The ``google.auth`` credentials of ``source`` (blocking: for ADC it may contact the
    metadata server); ``AnonymousCredentials`` for an emulator."""
    import google.auth
    import google.auth.exceptions
    from google.auth.credentials import AnonymousCredentials

    if source.kind == "emulator":
        return AnonymousCredentials()  # type: ignore[no-untyped-call]
    if source.kind == "service_account":
        assert source.secret_json is not None
        return _service_account_credentials(source.secret_json, source.secret_name)
    try:
        credentials, _ = google.auth.default(scopes=list(BIGQUERY_SCOPES))  # type: ignore[no-untyped-call]
    except google.auth.exceptions.DefaultCredentialsError:
        raise BigQueryConfigurationError(
            "no Google credentials found: set Application Default Credentials or the "
            f"{SERVICE_ACCOUNT_SECRET} secret (or send {CONNECTION_KEY} in the task's connection)"
        ) from None
    return credentials


def build_client(project: str, location: str | None, source: CredentialSource) -> Client:
    """Build a ``google.cloud.bigquery.Client`` for ``project``/``location`` (blocking: imports
    the client library and, for ADC, may contact the metadata server)."""
    from google.api_core.client_info import ClientInfo
    from google.cloud import bigquery

    options = {"api_endpoint": source.endpoint} if source.kind == "emulator" else None
    client = bigquery.Client(
        project=project,
        location=location,
        credentials=google_credentials(source),
        client_options=options,
        client_info=ClientInfo(user_agent=USER_AGENT),  # type: ignore[no-untyped-call]
    )
    return with_environment_read_once(client)


def with_environment_read_once(client: Client) -> Client:
    """``client`` with the environment settings of its HTTP session resolved once.

    ``requests`` re-reads proxies (``HTTPS_PROXY``, ``NO_PROXY``...), the CA bundle
    (``REQUESTS_CA_BUNDLE``) and ``~/.netrc`` from the environment on every request: about
    100 µs of each ``get_job`` (measured against bqemulator; see bench/RESULTS.md). The endpoint
    is fixed per client, so its settings are resolved here and the session stops consulting the
    environment: the same proxies and CA bundle, and no netrc credentials, which would replace
    the bearer token anyway. A client whose internals differ is returned unchanged.
    """
    session = getattr(client, "_http", None)  # google-cloud-core's AuthorizedSession
    base_url = getattr(getattr(client, "_connection", None), "API_BASE_URL", None)
    merge = getattr(session, "merge_environment_settings", None)
    if session is None or not isinstance(base_url, str) or merge is None:
        return client
    settings = merge(base_url, {}, None, None, None)
    session.proxies.update(settings["proxies"])
    if settings["verify"] is not None:
        session.verify = settings["verify"]
    session.trust_env = False
    return client


class ClientCache:
    """Thread-safe cache of BigQuery clients keyed by (project, location, credentials),
    bounded to ``max_size`` entries. Evicted clients are dropped, not closed, since another
    thread may still be using one; the garbage collector closes them."""

    def __init__(self, max_size: int = MAX_CACHED_CLIENTS) -> None:
        self._max_size = max_size
        self._clients: OrderedDict[tuple[str, str | None, str], Client] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, project: str, location: str | None) -> Client:
        """Return the cached client for ``project``/``location`` and the current credentials,
        building it on first use."""
        source = credential_source()
        key = (project, location, source.key)
        with self._lock:
            client = self._clients.get(key)
            if client is not None:
                self._clients.move_to_end(key)
                return client
        built = build_client(project, location, source)
        with self._lock:
            client = self._clients.setdefault(key, built)
            self._clients.move_to_end(key)
            while len(self._clients) > self._max_size:
                self._clients.popitem(last=False)
        if client is not built:  # another thread built one first
            built.close()  # type: ignore[no-untyped-call]
        return client

    def __len__(self) -> int:
        with self._lock:
            return len(self._clients)

    def clear(self) -> None:
        """Close and forget every cached client."""
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        for client in clients:
            client.close()  # type: ignore[no-untyped-call]


def preload_client_library() -> threading.Thread | None:
    """Start importing ``google.cloud.bigquery`` in a daemon thread if ``PRELOAD_ENV`` is ``1``."""
    if os.environ.get(PRELOAD_ENV) != "1":
        return None
    thread = threading.Thread(
        target=importlib.import_module,
        args=("google.cloud.bigquery",),
        name="agent-bigquery-preload",
        daemon=True,
    )
    thread.start()
    return thread
