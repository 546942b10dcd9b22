"""A local fake of the Databricks Jobs API 2.1 endpoints the agent calls, written from
Databricks' public API reference (docs.databricks.com/api/workspace/jobs): ``runs/submit``,
``runs/get``, ``runs/cancel``, and the OAuth M2M token endpoint ``/oidc/v1/token``.

* Authentication: ``Authorization: Bearer <token>`` must be one of ``tokens`` (or an OAuth
  token the fake issued); otherwise 401 with Databricks' JSON error body.
* Runs move one life-cycle state per ``runs/get``: PENDING -> RUNNING -> TERMINATING ->
  TERMINATED. The outcome follows the run's ``run_name``: containing ``fail`` -> FAILED,
  ``timeout`` -> TIMEDOUT, ``internal`` -> life-cycle INTERNAL_ERROR, ``slow`` -> stays RUNNING,
  ``instant`` -> TERMINATED at the first ``runs/get``; anything else -> SUCCESS.
* ``runs/cancel`` on a live run -> TERMINATED/CANCELED; on a finished run it is a no-op;
  an unknown run id is 400 ``INVALID_PARAMETER_VALUE`` "Run <id> does not exist."
* ``idempotency_token``: a second submit with the same token returns the first run.
* Errors are Databricks-format: ``{"error_code": "...", "message": "..."}``; tests can queue
  one with ``fail_next(status, error_code, message)``.
* Every request is recorded (``requests``), and every new TCP connection counted
  (``connections``), so tests can prove that none was made or that connections are reused.

Run it as ``python fake_databricks.py`` to serve on a free port (prints ``port=N``).
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

JOBS = "/api/2.1/jobs"
LIFE_CYCLE = ("PENDING", "RUNNING", "TERMINATING", "TERMINATED")


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    authorization: str
    body: Any


@dataclass
class Run:
    """A submitted run and where it is in its life cycle."""

    run_id: int
    job_id: int
    spec: dict[str, Any]
    step: int = 0
    life_cycle: str = "PENDING"
    result: str | None = None
    message: str = "Waiting for cluster"

    def advance(self) -> None:
        if self.life_cycle in ("TERMINATED", "INTERNAL_ERROR", "SKIPPED"):
            return
        name = str(self.spec.get("run_name", ""))
        if "slow" in name:
            self.life_cycle, self.message = "RUNNING", "In run"
            return
        step = len(LIFE_CYCLE) - 1 if "instant" in name else self.step + 1
        self.step = min(step, len(LIFE_CYCLE) - 1)
        self.life_cycle = LIFE_CYCLE[self.step]
        self.message = {"RUNNING": "In run", "TERMINATING": "Cleaning up"}.get(self.life_cycle, "")
        if self.life_cycle != "TERMINATED":
            return
        if "internal" in name:
            self.life_cycle, self.message = (
                "INTERNAL_ERROR",
                "Cluster terminated: cloud provider error",
            )
        elif "timeout" in name:
            self.result, self.message = "TIMEDOUT", "Run timed out after 60 seconds."
        elif "fail" in name:
            self.result, self.message = (
                "FAILED",
                "Task flyte_task failed with message: ZeroDivisionError",
            )
        else:
            self.result, self.message = "SUCCESS", ""

    def cancel(self) -> None:
        if self.life_cycle in ("TERMINATED", "INTERNAL_ERROR", "SKIPPED"):
            return
        self.life_cycle, self.result, self.message = "TERMINATED", "CANCELED", "Run cancelled."


@dataclass
class FakeState:
    """Everything the fake knows; the handler locks ``lock`` around changes."""

    base_url: str = ""
    tokens: set[str] = field(default_factory=set)
    oauth_clients: dict[str, str] = field(default_factory=dict)
    issued: set[str] = field(default_factory=set)
    runs: dict[int, Run] = field(default_factory=dict)
    by_idempotency: dict[str, int] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    connections: int = 0
    failures: list[tuple[int, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle's algorithm holds the
        # body back until the client's delayed ACK (40 ms) on a kept-alive connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.state.lock:
            self.server.state.connections += 1

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str, message: str) -> None:
        self._reply(status, {"error_code": code, "message": message})

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        content_type = self.headers.get("Content-Type", "")
        body: Any = None
        if raw and "json" in content_type:
            try:
                body = json.loads(raw)
            except ValueError:
                self._error(
                    400, "MALFORMED_REQUEST", "Invalid JSON given in the body of the request"
                )
                return
        elif raw:
            body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        with state.lock:
            state.requests.append(
                Recorded(method, url.path, self.headers.get("Authorization", ""), body)
            )
            failure = state.failures.pop(0) if state.failures else None
        if failure is not None:
            self._error(*failure)
            return
        if url.path == "/oidc/v1/token" and method == "POST":
            self._token(body or {})
            return
        authorization = self.headers.get("Authorization", "")
        token = authorization.removeprefix("Bearer ")
        if not authorization.startswith("Bearer ") or (
            token not in state.tokens and token not in state.issued
        ):
            self._error(401, "UNAUTHENTICATED", "Invalid access token.")
            return
        route = (method, url.path.replace("/api/2.2/", "/api/2.1/", 1))  # 2.2: same runs API
        if route == ("POST", f"{JOBS}/runs/submit"):
            self._submit(body)
        elif route == ("GET", f"{JOBS}/runs/get"):
            self._get(parse_qs(url.query).get("run_id", [""])[0])
        elif route == ("POST", f"{JOBS}/runs/cancel"):
            self._cancel((body or {}).get("run_id"))
        else:
            self._error(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {url.path}'")

    def _token(self, form: dict[str, str]) -> None:
        state = self.server.state
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        basic = self.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
        if form.get("grant_type") != "client_credentials":
            self._reply(400, {"error": "unsupported_grant_type"})
            return
        if state.oauth_clients.get(client_id) != secret or not secret:
            self._reply(
                401,
                {"error": "invalid_client", "error_description": "Client authentication failed"},
            )
            return
        token = "dapi-oauth-" + secrets.token_hex(8)
        with state.lock:
            state.issued.add(token)
        self._reply(
            200,
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": 3600,
                "scope": "all-apis",
            },
        )

    def _submit(self, body: Any) -> None:
        state = self.server.state
        if not isinstance(body, dict):
            self._error(400, "MALFORMED_REQUEST", "Request body must be a JSON object")
            return
        tasks = body.get("tasks")
        single = any(k in body for k in ("spark_python_task", "notebook_task"))
        if not tasks and not single:
            self._error(400, "INVALID_PARAMETER_VALUE", "A task must be specified")
            return
        if single and not ("new_cluster" in body or "existing_cluster_id" in body):
            self._error(
                400,
                "INVALID_PARAMETER_VALUE",
                "One of existing_cluster_id or new_cluster must be specified",
            )
            return
        cluster = body.get("new_cluster") or {}
        if not isinstance(cluster.get("num_workers", 0), int):
            self._error(
                400, "INVALID_PARAMETER_VALUE", "Invalid value for num_workers: expected an integer"
            )
            return
        with state.lock:
            token = body.get("idempotency_token")
            if token and token in state.by_idempotency:
                run_id = state.by_idempotency[token]
            else:
                run_id = next(state.ids)
                state.runs[run_id] = Run(run_id=run_id, job_id=run_id + 5000, spec=body)
                if token:
                    state.by_idempotency[token] = run_id
        self._reply(200, {"run_id": run_id})

    def _find(self, raw: Any) -> Run | None:
        try:
            run_id = int(raw)
        except (TypeError, ValueError):
            self._error(400, "INVALID_PARAMETER_VALUE", f"Invalid run_id: {raw}")
            return None
        run = self.server.state.runs.get(run_id)
        if run is None:
            self._error(400, "INVALID_PARAMETER_VALUE", f"Run {run_id} does not exist.")
        return run

    def _get(self, raw: Any) -> None:
        state = self.server.state
        with state.lock:
            run = self._find(raw)
            if run is None:
                return
            run.advance()
            state_obj: dict[str, Any] = {
                "life_cycle_state": run.life_cycle,
                "state_message": run.message,
                "user_cancelled_or_timedout": run.result in ("CANCELED", "TIMEDOUT"),
            }
            if run.result:
                state_obj["result_state"] = run.result
            answer = {
                "job_id": run.job_id,
                "run_id": run.run_id,
                "run_name": run.spec.get("run_name", "Untitled"),
                "run_page_url": f"{state.base_url}/?o=1234#job/{run.job_id}/run/{run.run_id}",
                "run_type": "SUBMIT_RUN",
                "state": state_obj,
            }
        self._reply(200, answer)

    def _cancel(self, raw: Any) -> None:
        with self.server.state.lock:
            run = self._find(raw)
            if run is None:
                return
            run.cancel()
        self._reply(200, {})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: FakeState


class FakeDatabricks:
    """The fake on ``127.0.0.1`` in a background thread; use it as a context manager."""

    def __init__(self, tokens: set[str] | None = None, tls: tuple[str, str] | None = None) -> None:
        """``tls``: (certificate, key) PEM files to serve HTTPS instead of plain HTTP."""
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.state = FakeState(tokens=set(tokens or ()))
        scheme = "http"
        if tls is not None:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.port = self.server.server_address[1]
        self.netloc = f"127.0.0.1:{self.port}"
        self.base_url = f"{scheme}://{self.netloc}"
        self.server.state.base_url = self.base_url
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def state(self) -> FakeState:
        """What the fake knows (runs, requests, connections)."""
        return self.server.state

    def fail_next(self, status: int, error_code: str, message: str) -> None:
        """Answer the next request with this Databricks-format error."""
        with self.state.lock:
            self.state.failures.append((status, error_code, message))

    def add_oauth_client(self, client_id: str, secret: str) -> None:
        """Accept this service principal at ``/oidc/v1/token``."""
        self.state.oauth_clients[client_id] = secret

    def requests_to(self, endpoint: str) -> list[Recorded]:
        """The requests recorded for ``endpoint`` (e.g. ``runs/get``)."""
        with self.state.lock:
            return [r for r in self.state.requests if r.path.endswith(endpoint)]

    def __enter__(self) -> FakeDatabricks:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


if __name__ == "__main__":
    import sys

    with FakeDatabricks(set(sys.argv[1:]) or {"dapi-test"}) as fake:
        print(f"port={fake.port}", flush=True)
        threading.Event().wait()
