"""BigQuery's REST ``jobs.get`` on the event loop, with ``aiohttp``: how ``get`` polls a job.

One ``ClientSession`` (one pool of kept-alive connections) per event loop
(``agenthost.http_sessions``), shared by every project and credential. Credentials come from
``settings.credential_source`` as for the client library, are cached by their fingerprint (never
the secret) and refreshed in the host's thread pool only when their token has expired, so a poll
costs one HTTP request on the loop instead of a trip through the thread pool and
``google-cloud-bigquery``'s request machinery (measured in bench/RESULTS.md). Proxies and the CA
bundle are read from the environment once per endpoint, as ``requests`` would for it.

Errors are raised as ``google.api_core`` raises them for the client library (an HTTP error
status is the matching ``GoogleAPICallError`` with BigQuery's ``errors``; a connection failure
or a timeout is ``BigQueryTransportError``, a ``ConnectionError``), so ``failures`` sorts
both paths alike.
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from agent_bigquery.clients import MAX_CACHED_CLIENTS, USER_AGENT, google_credentials
from agent_bigquery.settings import CredentialSource
from agenthost.http_sessions import HttpSessions
from agenthost.threads import run_blocking

DEFAULT_ENDPOINT = "https://bigquery.googleapis.com"
"""BigQuery's REST endpoint when no emulator is set (``google-cloud-bigquery``'s default)."""

JOBS_PATH = "/bigquery/v2/projects/{project}/jobs/{job_id}"


class BigQueryTransportError(ConnectionError):
    """BigQuery could not be reached, or did not answer within the request timeout."""


@dataclass(frozen=True)
class TableRef:
    """A table named by a job resource (``configuration.query.destinationTable``)."""

    project: str
    dataset_id: str
    table_id: str


@dataclass(frozen=True)
class JobResource:
    """The parts of a REST job resource that ``status.resource_from_job`` reads."""

    job_type: str
    state: str | None
    error_result: dict[str, Any] | None
    destination: TableRef | None

    @classmethod
    def from_api_repr(cls, resource: dict[str, Any]) -> JobResource:
        """Read a ``jobs.get`` answer; missing parts are ``None``."""
        configuration = resource.get("configuration") or {}
        job_type = str(configuration.get("jobType") or "").lower()
        if not job_type:
            job_type = next((k for k in configuration if k != "jobType"), "unknown")
        status = resource.get("status") or {}
        table = (configuration.get("query") or {}).get("destinationTable")
        destination = None
        if isinstance(table, dict):
            destination = TableRef(
                str(table.get("projectId", "")),
                str(table.get("datasetId", "")),
                str(table.get("tableId", "")),
            )
        error = status.get("errorResult")
        return cls(
            job_type=job_type,
            state=status.get("state"),
            error_result=error if isinstance(error, dict) else None,
            destination=destination,
        )


def api_error(status: int, payload: bytes) -> Exception:
    """The ``google.api_core`` exception the client library raises for this HTTP answer."""
    from google.api_core import exceptions

    message, errors = "", []
    try:
        body = json.loads(payload).get("error") or {}
        message = str(body.get("message") or "")
        errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
    except (ValueError, AttributeError, UnicodeDecodeError):
        pass
    error: Exception = exceptions.from_http_status(
        status, message or f"HTTP {status}", errors=errors
    )
    return error


class JobsApi:
    """Reads BigQuery jobs over REST; safe to share between event loops and threads."""

    def __init__(self, max_credentials: int = MAX_CACHED_CLIENTS) -> None:
        self._sessions = HttpSessions(connector_options={"limit": 64, "ttl_dns_cache": 300})
        self._settings: dict[str, tuple[str | None, ssl.SSLContext | bool]] = {}
        self._credentials: OrderedDict[str, Any] = OrderedDict()
        self._max_credentials = max_credentials
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()

    async def get_job(
        self,
        source: CredentialSource,
        project: str,
        job_id: str,
        location: str | None,
        timeout: float,
    ) -> JobResource:
        """``jobs.get`` of ``project``/``job_id`` (in ``location`` when set)."""
        import aiohttp

        endpoint = source.endpoint or DEFAULT_ENDPOINT
        url = endpoint + JOBS_PATH.format(
            project=quote(project, safe=":"), job_id=quote(job_id, safe="")
        )
        params = {"prettyPrint": "false"}
        if location:
            params["location"] = location
        headers = await self._auth_headers(source)
        proxy, verify = self._environment(endpoint)
        try:
            async with self._sessions.get().get(
                url,
                params=params,
                headers=headers,
                proxy=proxy,
                ssl=verify,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                status, payload = response.status, await response.read()
        except asyncio.TimeoutError:
            raise BigQueryTransportError(f"no answer within {timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise BigQueryTransportError(type(exc).__name__) from None
        if status != 200:
            raise api_error(status, payload)
        try:
            resource = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            raise api_error(502, b"") from None
        if not isinstance(resource, dict):
            raise api_error(502, b"")
        return JobResource.from_api_repr(resource)

    async def _auth_headers(self, source: CredentialSource) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT}
        if source.kind == "emulator":
            return headers
        credentials = self._cached_credentials(source)
        if credentials is None:
            credentials = await run_blocking(functools.partial(google_credentials, source))
            credentials = self._remember(source.key, credentials)
        if not credentials.valid:
            await run_blocking(functools.partial(self._refresh, credentials))
        credentials.apply(headers)
        return headers

    def _cached_credentials(self, source: CredentialSource) -> Any:
        with self._lock:
            credentials = self._credentials.get(source.key)
            if credentials is not None:
                self._credentials.move_to_end(source.key)
            return credentials

    def _remember(self, key: str, credentials: Any) -> Any:
        with self._lock:
            credentials = self._credentials.setdefault(key, credentials)
            while len(self._credentials) > self._max_credentials:
                self._credentials.popitem(last=False)
            return credentials

    def _environment(self, endpoint: str) -> tuple[str | None, ssl.SSLContext | bool]:
        """The proxy and TLS verification ``requests`` would use for ``endpoint``, resolved
        once per endpoint."""
        settings = self._settings.get(endpoint)
        if settings is None:
            import certifi
            import requests

            merged = requests.Session().merge_environment_settings(endpoint, {}, None, None, None)
            scheme = endpoint.split("://", 1)[0]
            proxy = merged["proxies"].get(scheme) or merged["proxies"].get("all")
            verify: ssl.SSLContext | bool = True
            if scheme == "https":
                bundle = merged["verify"]
                cafile = bundle if isinstance(bundle, str) else certifi.where()
                verify = ssl.create_default_context(cafile=cafile)
            settings = self._settings[endpoint] = (proxy, verify)
        return settings

    def _refresh(self, credentials: Any) -> None:
        """Fetch a new token (blocking), once for pollers that found it expired together."""
        import google.auth.transport.requests

        with self._refresh_lock:
            if not credentials.valid:
                credentials.refresh(google.auth.transport.requests.Request())

    async def aclose(self) -> None:
        """Close the sessions (their connections) of every event loop; idempotent."""
        await self._sessions.aclose()
