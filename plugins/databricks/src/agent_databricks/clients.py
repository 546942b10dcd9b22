"""HTTP calls to the Jobs API 2.1 with ``aiohttp``: one ``ClientSession`` (so one pool of
kept-alive connections) per event loop, shared by every task and credential; the token goes in
each request's header. OAuth M2M tokens are cached per (instance, client id, secret
fingerprint) until a minute before they expire.

Errors: an error answer raises ``ApiError``; a connection failure or timeout raises
``DatabricksUnavailableError`` naming the instance.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from agent_databricks.credentials import Credential, scrub_in_this_call
from agent_databricks.errors import DatabricksConfigurationError, DatabricksUnavailableError
from agent_databricks.failures import ApiError, api_error, clean_message
from agent_databricks.settings import Instance, request_timeout
from agenthost.http_sessions import HttpSessions

JOBS_API = "/api/2.1/jobs"
TOKEN_PATH = "/oidc/v1/token"
TOKEN_REFRESH_MARGIN_S = 60.0
OAUTH_TOKEN_SECRET = "oauth access token"
"""The name a minted OAuth token takes among the current call's connection secrets."""
USER_AGENT = "agenthost-agent-databricks"


class DatabricksClient:
    """Calls Databricks on behalf of the agents; safe to share between them."""

    def __init__(self) -> None:
        self._sessions = HttpSessions(
            connector_options={"limit": 64, "ttl_dns_cache": 300},
            headers={"User-Agent": USER_AGENT},
            raise_for_status=False,
        )
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}

    async def call(
        self,
        instance: Instance,
        credential: Credential,
        method: str,
        endpoint: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``method`` ``/api/2.1/jobs/<endpoint>`` on ``instance``; the JSON answer. An OAuth
        token Databricks refuses (401) is fetched anew and the call made once more."""
        token = await self._bearer(instance, credential)
        try:
            return await self._request(instance, method, endpoint, token, params, body)
        except ApiError as exc:
            if exc.status != 401 or not credential.is_oauth:
                raise
        self._tokens.pop((instance.netloc, credential.key), None)
        token = await self._bearer(instance, credential)
        return await self._request(instance, method, endpoint, token, params, body)

    async def _request(
        self,
        instance: Instance,
        method: str,
        endpoint: str,
        token: str,
        params: dict[str, str] | None,
        body: dict[str, Any] | None,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body, separators=(",", ":"))
        url = f"{instance.base_url}{JOBS_API}/{endpoint}"
        status, payload, reason = await self._send(instance, method, url, headers, params, data)
        if status != 200:
            raise api_error(status, payload, reason)
        try:
            answer = json.loads(payload) if payload.strip() else {}
        except (ValueError, UnicodeDecodeError):
            raise DatabricksUnavailableError(
                f"Databricks instance {instance.netloc} answered {endpoint} with something "
                "that is not JSON"
            ) from None
        if not isinstance(answer, dict):
            raise DatabricksUnavailableError(
                f"Databricks instance {instance.netloc} answered {endpoint} with JSON that is "
                "not an object"
            )
        return answer

    async def _send(
        self,
        instance: Instance,
        method: str,
        url: str,
        headers: dict[str, str],
        params: dict[str, str] | None,
        data: Any,
    ) -> tuple[int, bytes, str]:
        import aiohttp

        timeout = request_timeout()
        try:
            async with self._sessions.get().request(
                method,
                url,
                headers=headers,
                params=params,
                data=data,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                return response.status, await response.read(), response.reason or ""
        except asyncio.TimeoutError:
            raise DatabricksUnavailableError(
                f"Databricks instance {instance.netloc} did not answer within {timeout:g} s"
            ) from None
        except aiohttp.ClientError as exc:
            raise DatabricksUnavailableError(
                f"could not reach Databricks instance {instance.netloc}: "
                f"{clean_message(type(exc).__name__)}"
            ) from None

    async def _bearer(self, instance: Instance, credential: Credential) -> str:
        if credential.token is not None:
            return credential.token
        key = (instance.netloc, credential.key)
        cached = self._tokens.get(key)
        if cached is not None and cached[1] > time.monotonic():
            scrub_in_this_call(OAUTH_TOKEN_SECRET, cached[0])
            return cached[0]
        form = {
            "grant_type": "client_credentials",
            "scope": "all-apis",
            "client_id": credential.client_id or "",
            "client_secret": credential.client_secret or "",
        }
        status, payload, reason = await self._send(
            instance, "POST", f"{instance.base_url}{TOKEN_PATH}", {}, None, form
        )
        if status != 200:
            error = api_error(status, payload, reason)
            if error.transient:
                raise DatabricksUnavailableError(
                    f"Databricks instance {instance.netloc} could not issue an OAuth token: {error}"
                )
            raise DatabricksConfigurationError(
                f"Databricks instance {instance.netloc} refused the OAuth client "
                f"{credential.client_id}: {error}"
            )
        try:
            answer = json.loads(payload)
            token = answer["access_token"]
            lifetime = float(answer.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise DatabricksConfigurationError(
                f"Databricks instance {instance.netloc} answered the OAuth token request "
                "without an access_token"
            ) from None
        if not isinstance(token, str) or not token:
            raise DatabricksConfigurationError(
                f"Databricks instance {instance.netloc} issued an empty OAuth token"
            )
        scrub_in_this_call(OAUTH_TOKEN_SECRET, token)
        self._tokens[key] = (token, time.monotonic() + max(lifetime - TOKEN_REFRESH_MARGIN_S, 0))
        return token

    async def aclose(self) -> None:
        """Close the sessions (their connections) of every event loop; idempotent."""
        await self._sessions.aclose()
