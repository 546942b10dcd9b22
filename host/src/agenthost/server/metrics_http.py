"""The ``/metrics`` listener: Prometheus' text (or OpenMetrics) exposition over HTTP/1.1, served
from an asyncio event loop.

prometheus_client's own ``start_http_server`` runs one thread per connection with no timeout,
so idle or half-sent connections pile up threads. This listener holds no thread per
connection: each connection must send its request head within ``REQUEST_TIMEOUT`` seconds
(``IDLE_TIMEOUT`` for the rest of the exchange), at most ``MAX_CONNECTIONS`` are open at once
(more are closed at once), and each is closed after one response. The exposition itself
(format negotiation, encoding) is prometheus_client's ``choose_encoder``; only the HTTP framing
is here. ``GET`` or ``HEAD`` of ``/`` or ``/metrics`` answers; anything else is 404/405/400.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

logger = logging.getLogger("agenthost.server.metrics")

REQUEST_TIMEOUT = 5.0
"""Seconds a connection gets to send its request head."""
IDLE_TIMEOUT = 10.0
"""Seconds a client gets to read the response."""
MAX_CONNECTIONS = 256
"""Connections open at once; more are closed without an answer."""
MAX_HEAD_BYTES = 16 * 1024
"""Largest request head (request line and headers) accepted."""

_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    431: "Request Header Fields Too Large",
}


def listen_host(host: str) -> str | None:
    """``host`` as asyncio's ``start_server`` wants it: brackets removed, and None (every
    interface, IPv4 and IPv6) for ``[::]``."""
    bare = host.strip("[]")
    return None if bare in ("", "::") else bare


class MetricsListener:
    """Serves ``registry`` on one port from the running event loop (see the module docstring)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.open_connections = 0
        self._server: asyncio.AbstractServer | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host``:``port`` (``port`` 0 picks one); return the bound port. Raises
        ``OSError`` when the address cannot be bound (e.g. the port is taken)."""
        self._server = await asyncio.start_server(
            self._serve, listen_host(host), port, limit=MAX_HEAD_BYTES, reuse_address=True
        )
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening (open connections finish on their own timeouts)."""
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.open_connections >= MAX_CONNECTIONS:
            writer.transport.abort()
            return
        self.open_connections += 1
        try:
            status, body, headers, send_body = await self._answer(reader)
            if writer.transport.is_closing():
                return  # the client is gone (uvloop raises on a write to a closed transport)
            head = [f"HTTP/1.1 {status} {_REASONS[status]}", *headers]
            head += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
            writer.write("\r\n".join(head).encode("latin-1") + (body if send_body else b""))
            await asyncio.wait_for(writer.drain(), IDLE_TIMEOUT)
        except (OSError, asyncio.TimeoutError):
            writer.transport.abort()
        except Exception:  # a failing collector must not end the listener
            logger.exception("metrics scrape failed")
            writer.transport.abort()
        finally:
            self.open_connections -= 1
            writer.close()
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), IDLE_TIMEOUT)

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[int, bytes, list[str], bool]:
        """Status, body, extra headers, and whether to send the body (not for ``HEAD``), for
        the request ``reader`` delivers."""
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT)
        except asyncio.LimitOverrunError:
            return 431, b"request head too large\n", [], True
        except asyncio.IncompleteReadError:
            return 400, b"incomplete request\n", [], True
        request_line, *header_lines = raw.decode("latin-1").split("\r\n")
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return 400, b"bad request line\n", [], True
        method, target = parts[0], parts[1]
        if target.split("?", 1)[0] not in ("/", "/metrics"):
            return 404, b"only /metrics is served here\n", [], True
        if method not in ("GET", "HEAD"):
            return 405, b"only GET and HEAD\n", ["Allow: GET, HEAD"], True
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        from prometheus_client.exposition import choose_encoder

        encoder, content_type = choose_encoder(headers.get("accept", ""))
        body = encoder(self.registry)
        extra = [f"Content-Type: {content_type}"]
        if "gzip" in headers.get("accept-encoding", ""):
            import gzip

            body = gzip.compress(body, compresslevel=6)
            extra.append("Content-Encoding: gzip")
        return 200, body, extra, method != "HEAD"
