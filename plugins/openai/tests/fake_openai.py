"""A small OpenAI-compatible HTTP server for tests, on 127.0.0.1 (standard library only).

Endpoints: ``POST /v1/chat/completions``, ``POST /v1/files``, ``POST /v1/batches``,
``GET /v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``; ``GET /_test/requests`` lists the
requests received (method, path, headers, JSON body) so tests can check what the client sent.

Errors are triggered by name: a chat ``model`` or a batch ``input_file_id`` of ``error-401``,
``error-404``, ``error-429``, ``error-400`` or ``error-500`` gets that OpenAI-format error
(the 401 echoes the bearer token, as real APIs echo part of it, so tests can check scrubbing),
and so does ``GET /v1/batches/error-NNN``; the model ``slow`` answers after two seconds.
A batch advances one state per ``GET``: validating, in_progress, finalizing, completed; an
``input_file_id`` of ``file-fail`` ends ``failed`` (with an error message), ``file-expire``
``expired``. Cancelling a running batch makes it ``cancelling``, then ``cancelled``; cancelling
an ended one is refused with 409 "Cannot cancel a batch with status ...", as OpenAI answers. A
batch of ``file-cancel-conflict`` refuses every cancel with a 409 conflict and keeps running.

Run it alone with ``python fake_openai.py --port 0``: it prints ``fake-openai listening on
127.0.0.1:PORT`` and serves until interrupted.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ERRORS: dict[str, tuple[int, str, str]] = {
    "error-400": (400, "invalid_request_error", "Invalid value for 'model'."),
    "error-401": (401, "invalid_request_error", "Incorrect API key provided: {key}."),
    "error-404": (404, "invalid_request_error", "The model does not exist."),
    "error-429": (429, "rate_limit_exceeded", "Rate limit reached for requests. Try again soon."),
    "error-500": (500, "server_error", "The server had an error while processing your request."),
}
ERROR_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded", 404: "model_not_found"}
SLOW_SECONDS = 2.0
PROGRESS = ("validating", "in_progress", "finalizing", "completed")
RUNNING = frozenset({"validating", "in_progress", "finalizing"})


class FakeOpenAI(ThreadingHTTPServer):
    """The server and its state: batches by id and every request received."""

    daemon_threads = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.batches: dict[str, dict[str, Any]] = {}
        self.ids = itertools.count(1)
        self.thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The ``OPENAI_BASE_URL`` for this server (``http://127.0.0.1:PORT/v1``)."""
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def start(self) -> FakeOpenAI:
        """Serve in a daemon thread."""
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.shutdown()
        self.server_close()
        if self.thread is not None:
            self.thread.join(timeout=10)

    def received(self, path_prefix: str = "") -> list[dict[str, Any]]:
        """Requests received so far whose path starts with ``path_prefix``."""
        with self.lock:
            return [r for r in self.requests if r["path"].startswith(path_prefix)]


class _Handler(BaseHTTPRequestHandler):
    server: FakeOpenAI
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing -----------------------------------------------------------------------------
    def _body(self) -> Any:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        if "application/json" in (self.headers.get("content-type") or ""):
            return json.loads(raw or b"null")
        return {"_raw_bytes": len(raw)}

    def _record(self, body: Any) -> None:
        entry = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body,
        }
        with self.server.lock:
            self.server.requests.append(entry)

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", f"req_{next(self.server.ids)}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, status: int, message: str) -> None:
        """An OpenAI API error body (``invalid_request_error``) with ``status``."""
        self._send(
            status, {"error": {"message": message, "type": "invalid_request_error", "code": None}}
        )

    def _error(self, trigger: str) -> bool:
        if trigger not in ERRORS:
            return False
        status, kind, text = ERRORS[trigger]
        token = (self.headers.get("authorization") or "").removeprefix("Bearer ")
        error = {
            "message": text.format(key=token),
            "type": kind,
            "param": None,
            "code": ERROR_CODES.get(status),
        }
        # Ask the client to retry at once, so retry tests are fast.
        self._send(status, {"error": error}, {"retry-after-ms": "1"})
        return True

    # -- routes -------------------------------------------------------------------------------
    def do_GET(self) -> None:
        if self.path == "/_test/requests":
            with self.server.lock:
                self._send(200, list(self.server.requests))
            return
        self._record(None)
        match = re.fullmatch(r"/v1/batches/([\w-]+)", self.path)
        if match:
            self._get_batch(match.group(1))
            return
        self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def do_POST(self) -> None:
        body = self._body()
        self._record(body)
        if self.path == "/v1/chat/completions":
            self._chat(body)
        elif self.path == "/v1/files":
            file_id = f"file-{next(self.server.ids)}"
            self._send(
                200,
                {
                    "id": file_id,
                    "object": "file",
                    "bytes": body.get("_raw_bytes", 0),
                    "created_at": int(time.time()),
                    "filename": "input.jsonl",
                    "purpose": "batch",
                    "status": "processed",
                },
            )
        elif self.path == "/v1/batches":
            self._create_batch(body)
        elif (match := re.fullmatch(r"/v1/batches/([\w-]+)/cancel", self.path)) is not None:
            self._cancel_batch(match.group(1))
        else:
            self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def _chat(self, body: dict[str, Any]) -> None:
        if self._error(str(body.get("model"))):
            return
        if body.get("model") == "slow":
            time.sleep(SLOW_SECONDS)
        last = body["messages"][-1]["content"]
        self._send(
            200,
            {
                "id": f"chatcmpl-{next(self.server.ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": f"echo: {last}",
                            "refusal": None,
                        },
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
            },
        )

    def _create_batch(self, body: dict[str, Any]) -> None:
        if self._error(str(body.get("input_file_id"))):
            return
        batch_id = f"batch_{next(self.server.ids)}"
        batch = {
            "id": batch_id,
            "object": "batch",
            "endpoint": body["endpoint"],
            "errors": None,
            "input_file_id": body["input_file_id"],
            "completion_window": body["completion_window"],
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": int(time.time()),
            "request_counts": {"total": 2, "completed": 0, "failed": 0},
            "metadata": body.get("metadata"),
        }
        with self.server.lock:
            self.server.batches[batch_id] = batch
        self._send(200, batch)

    def _get_batch(self, batch_id: str) -> None:
        if self._error(batch_id):
            return
        with self.server.lock:
            batch = self.server.batches.get(batch_id)
            if batch is None:
                snapshot = None
            else:
                snapshot = json.loads(json.dumps(batch))
                _advance(batch)
        if snapshot is None:
            self._send_error(404, f"No batch found with id '{batch_id}'.")
        else:
            self._send(200, snapshot)

    def _cancel_batch(self, batch_id: str) -> None:
        with self.server.lock:
            batch = self.server.batches.get(batch_id)
            conflict = batch is not None and batch["input_file_id"] == "file-cancel-conflict"
            if batch is not None and batch["status"] in RUNNING and not conflict:
                batch["status"] = "cancelling"
            snapshot = json.loads(json.dumps(batch)) if batch else None
        if conflict:
            self._send_error(409, "Another request is modifying this batch; try again.")
        elif snapshot is None:
            self._send_error(404, f"No batch found with id '{batch_id}'.")
        elif snapshot["status"] != "cancelling":
            self._send_error(409, f"Cannot cancel a batch with status '{snapshot['status']}'.")
        else:
            self._send(200, snapshot)


def _advance(batch: dict[str, Any]) -> None:
    status = batch["status"]
    if status == "cancelling":
        batch["status"] = "cancelled"
        return
    if status not in RUNNING:
        return
    nxt = PROGRESS[PROGRESS.index(status) + 1]
    if nxt == "completed" and batch["input_file_id"] == "file-fail":
        batch["status"] = "failed"
        batch["errors"] = {
            "object": "list",
            "data": [
                {
                    "code": "invalid_json_line",
                    "line": 1,
                    "param": None,
                    "message": "Line 1 of the input file is not valid JSON.",
                }
            ],
        }
        return
    if nxt == "completed" and batch["input_file_id"] == "file-expire":
        batch["status"] = "expired"
        return
    batch["status"] = nxt
    if nxt == "completed":
        batch["output_file_id"] = f"file-out-{batch['id']}"
        batch["request_counts"] = {"total": 2, "completed": 2, "failed": 0}
        batch["completed_at"] = int(time.time())


def main() -> None:
    """Serve until interrupted, printing the port first."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = FakeOpenAI(args.port)
    print(f"fake-openai listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
