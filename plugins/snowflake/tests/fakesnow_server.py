"""fakesnow's server mode, plus what it does not emulate, for the tests: run as a script.

``python fakesnow_server.py`` serves on a free port of 127.0.0.1 and prints
``fakesnow listening on 127.0.0.1:<port>``. fakesnow (https://github.com/tekumara/fakesnow)
implements Snowflake's REST endpoints for ``snowflake-connector-python`` on DuckDB. It runs every
query at once, so it has no queued, running, failed or aborted query for ``get`` to see, it
has no ``SYSTEM$CANCEL_QUERY`` and it accepts any login. This layer adds, as Snowflake and the
connector's source describe them:

* ``/monitoring/queries/<id>`` answers with a status sequence a test scripted for that query
  (``POST /_fake/queries/<id>`` with ``{"statuses": [...], "errorCode", "errorMessage"}``;
  each poll takes the next status, the last one stays), with Snowflake's error fields for
  failed and aborted queries; other queries are fakesnow's (``SUCCESS`` once run);
* ``SELECT SYSTEM$CANCEL_QUERY(?)`` with the query id bound: a scripted query that is still
  running becomes ``ABORTED``; the answer is Snowflake's text; every call is recorded;
* key-pair logins are checked against public-key fingerprints a test registered for a user
  (``POST /_fake/users/<user>`` with ``{"fingerprint": "SHA256:..."}``): a JWT whose issuer
  names another key is refused with Snowflake's ``390144``;
* logins naming a database a test declared missing (``POST /_fake/databases/<name>/missing``)
  are refused with Snowflake's ``390201``;
* login answers carry a master token, as Snowflake's do (the connector only logs out, on
  ``close()``, with one);
* ``GET /_fake/state``: logins per user, status polls, cancels and closed sessions, for
  assertions.
"""

from __future__ import annotations

import gzip
import json
import socket
import sys
import uuid
from typing import Any

import fakesnow.server as fake
import jwt
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

FAILED = {"FAILED_WITH_ERROR", "FAILED_WITH_INCIDENT", "ABORTING", "ABORTED"}
RUNNING = {"RUNNING", "QUEUED", "RESUMING_WAREHOUSE", "QUEUED_REPARING_WAREHOUSE", "BLOCKED"}
CANCEL_SQL = "SELECT SYSTEM$CANCEL_QUERY(?)"

scripted: dict[str, dict[str, Any]] = {}
fingerprints: dict[str, str] = {}
missing_databases: set[str] = set()
state: dict[str, Any] = {"logins": {}, "status_polls": 0, "cancels": [], "closed_sessions": 0}


async def _json_body(request: Request) -> Any:
    body = await request.body()  # cached on the request: fakesnow's handler reads it again
    if request.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return json.loads(body)


def _error(code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"data": {"errorCode": code}, "code": code, "message": message, "success": False}
    )


async def login(request: Request) -> Response:
    data = (await _json_body(request))["data"]
    database = request.query_params.get("databaseName", "").upper()
    if database in missing_databases:
        return _error("390201", "The requested database does not exist or not authorized.")
    user = str(data.get("LOGIN_NAME", "")).upper()
    expected = fingerprints.get(user)
    if expected is not None:
        claims = jwt.decode(data.get("TOKEN", ""), options={"verify_signature": False})
        if not str(claims.get("iss", "")).endswith(expected):
            return _error("390144", "JWT token is invalid.")
    state["logins"][user] = state["logins"].get(user, 0) + 1
    response = await fake.login_request(request)
    answer = json.loads(bytes(response.body))
    answer["data"]["masterToken"] = "master-" + answer["data"]["token"]  # the connector logs
    answer["data"]["masterValidityInSeconds"] = 14400  # out with it on close
    answer["data"]["validityInSeconds"] = 3600
    return JSONResponse(answer)


def _status_entry(query_id: str) -> dict[str, Any]:
    entry = scripted[query_id]
    statuses = entry["statuses"]
    status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
    found = {"id": query_id, "status": status}
    if status in FAILED:
        found["errorCode"] = entry.get("errorCode", "000604")
        found["errorMessage"] = entry.get("errorMessage", "SQL execution canceled")
    return found


async def monitoring(request: Request) -> Response:
    fake.to_conn(fake.to_token(request))
    state["status_polls"] += 1
    query_id = request.path_params["sfqid"]
    if query_id not in scripted:
        return fake.monitoring_query(request)
    return JSONResponse({"data": {"queries": [_status_entry(query_id)]}, "success": True})


def _cancel(body: dict[str, Any]) -> JSONResponse:
    bindings = body.get("bindings") or {}
    state["cancels"].append({"sqlText": body["sqlText"], "bindings": bindings})
    query_id = str(bindings.get("1", {}).get("value", ""))
    entry = scripted.get(query_id)
    if entry is not None and entry["statuses"][0] in RUNNING:
        entry.update(
            statuses=["ABORTED"], errorCode="000604", errorMessage="SQL execution canceled"
        )
        text = f"query [{query_id}] terminated."
    else:
        text = "Identified SQL statement is not currently executing."
    column = {"name": "SYSTEM$CANCEL_QUERY(?)", "database": "", "schema": "", "table": "",
              "nullable": True, "type": "text", "byteLength": 16777216, "length": 16777216,
              "scale": None, "precision": None, "collation": None}  # fmt: skip
    return JSONResponse(
        {
            "data": {
                "rowtype": [column],
                "rowset": [[text]],
                "total": 1,
                "returned": 1,
                "queryId": str(uuid.uuid4()),
                "queryResultFormat": "json",
                "statementTypeId": 4096,
            },
            "success": True,
        }
    )


async def query(request: Request) -> Response:
    body = await _json_body(request)
    if " ".join(body["sqlText"].split()).upper() == CANCEL_SQL:
        fake.to_conn(fake.to_token(request))
        return _cancel(body)
    return await fake.query_request(request)


async def script_query(request: Request) -> Response:
    scripted[request.path_params["query_id"]] = await request.json()
    return JSONResponse({"ok": True})


async def register_user(request: Request) -> Response:
    fingerprints[request.path_params["user"].upper()] = (await request.json())["fingerprint"]
    return JSONResponse({"ok": True})


async def session(request: Request) -> Response:
    if request.query_params.get("delete"):
        state["closed_sessions"] += 1
    return await fake.session(request)


async def refuse_database(request: Request) -> Response:
    missing_databases.add(request.path_params["name"].upper())
    return JSONResponse({"ok": True})


async def get_state(request: Request) -> Response:
    return JSONResponse(state)


app = Starlette(
    routes=[
        Route("/session/v1/login-request", login, methods=["POST"]),
        Route("/queries/v1/query-request", query, methods=["POST"]),
        Route("/monitoring/queries/{sfqid}", monitoring, methods=["GET"]),
        Route("/session", session, methods=["POST"]),
        Route("/_fake/queries/{query_id}", script_query, methods=["POST"]),
        Route("/_fake/users/{user}", register_user, methods=["POST"]),
        Route("/_fake/databases/{name}/missing", refuse_database, methods=["POST"]),
        Route("/_fake/state", get_state, methods=["GET"]),
        Mount("/", app=fake.app),
    ]
)


def main() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    sock.listen(128)
    host, port = sock.getsockname()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    print(f"fakesnow listening on {host}:{port}", flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
