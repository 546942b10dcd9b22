"""One ``aiohttp.ClientSession`` per event loop, for agents whose ``async def`` methods call
HTTP APIs: the session (its pool of kept-alive connections) is reused by every call on that loop
and closed by the agent's ``aclose()``.

``aiohttp`` is imported on first use, never by agenthost itself: a plugin that uses this
declares ``aiohttp`` as its own dependency.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiohttp


class HttpSessions:
    """``aiohttp`` sessions keyed by event loop; safe to share between agents and loops.

    ``session_options`` go to every ``aiohttp.ClientSession`` built (``headers``,
    ``raise_for_status``, ...); ``connector_options`` to its ``aiohttp.TCPConnector``.
    """

    def __init__(
        self,
        *,
        connector_options: dict[str, Any] | None = None,
        **session_options: Any,
    ) -> None:
        self._connector_options = dict(connector_options or {})
        self._session_options = session_options
        self._sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession]
        self._sessions = weakref.WeakKeyDictionary()

    def get(self) -> aiohttp.ClientSession:
        """The running loop's session, built on first use (or after it was closed)."""
        import aiohttp

        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(**self._connector_options),
                **self._session_options,
            )
            self._sessions[loop] = session
        return session

    async def aclose(self) -> None:
        """Close every session (their connections); idempotent."""
        sessions = list(self._sessions.values())
        self._sessions.clear()
        for session in sessions:
            if not session.closed:
                await session.close()
