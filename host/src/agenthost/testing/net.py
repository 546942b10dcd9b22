"""Network stand-ins for tests of what a server must *not* reach or wait on: a tripwire HTTP
listener that counts every request it gets, and an endpoint that never accepts a connection.
Both listen on 127.0.0.1 only, on free ports; re-exported by ``agenthost.testing``."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_lock = threading.Lock()
_forbidden_total = 0


def forbidden_requests() -> int:
    """How many requests reached any tripwire started in this process so far (the figure the
    reliability summary prints as "requests that reached forbidden hosts"; it must be 0)."""
    with _lock:
        return _forbidden_total


@dataclass
class Tripwire:
    """A local HTTP listener standing in for a host the server under test must never contact
    (a task-chosen URL, an API path outside the agent's surface). It answers 200 to every
    method and records each request as ``"METHOD /path"``."""

    host: str
    port: int
    requests: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``."""
        return f"{self.host}:{self.port}"

    def _record(self, line: str) -> None:
        global _forbidden_total
        with _lock:
            self.requests.append(line)
            _forbidden_total += 1


@contextlib.contextmanager
def tripwire() -> Iterator[Tripwire]:
    """Serve a ``Tripwire`` on a free loopback port for the ``with`` block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    wire = Tripwire(host="127.0.0.1", port=int(server.server_address[1]))
    server.tripwire = wire  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield wire
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def tripwire_fixture(scope: str = "module") -> Any:
    """A pytest fixture yielding a ``Tripwire`` started once per ``scope``; assign it to a name
    (``wire = tripwire_fixture()``) and point the server's endpoints at ``wire.url``."""
    import pytest

    def fixture() -> Iterator[Tripwire]:
        with tripwire() as wire:
            yield wire

    fixture.__doc__ = "A local HTTP tripwire that counts every request it gets."
    return pytest.fixture(scope=scope)(fixture)  # type: ignore[call-overload]


class _Handler(BaseHTTPRequestHandler):
    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(min(length, 1 << 20))
        self.server.tripwire._record(f"{self.command} {self.path}")  # type: ignore[attr-defined]
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _any

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def unreachable_endpoint() -> Iterator[str]:
    """Yield ``127.0.0.1:<port>`` where connection attempts hang until the client gives up, as
    with a firewalled or black-holed host: a listening socket that never accepts, its one-slot
    backlog already taken, so the kernel drops further connection requests."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address = listener.getsockname()
        filler.settimeout(5)
        filler.connect(address)
        yield f"{address[0]}:{address[1]}"
    finally:
        filler.close()
        listener.close()
