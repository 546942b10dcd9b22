"""A tiny HTTP server on 127.0.0.1 that answers BigQuery REST calls with canned responses, for
the failure paths the emulator never produces (503s, 403s, 409 on job insert)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Canned:
    """Responses by HTTP method: ``(status, JSON body)``; requests seen, as (method, path)."""

    responses: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    seen: list[tuple[str, str]] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    """The ``Authorization`` header of each request, in order."""
    first: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    """Responses by HTTP method served once each, in order, before ``responses``."""


def error_body(code: int, reason: str, message: str) -> dict[str, Any]:
    """A BigQuery REST error document."""
    return {"error": {"code": code, "message": message, "errors": [{"reason": reason}]}}


@contextmanager
def fake_bigquery(canned: Canned) -> Iterator[str]:
    """Serve ``canned`` on a free loopback port; yields the endpoint URL."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            canned.seen.append((self.command, self.path))
            canned.authorizations.append(self.headers.get("Authorization"))
            queued = canned.first.get(self.command)
            if queued:
                status, body = queued.pop(0)
            else:
                status, body = canned.responses.get(self.command, (404, error_body(404, "x", "?")))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
