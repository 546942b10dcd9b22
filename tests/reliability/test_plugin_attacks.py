"""The red team's plugin attacks (issue 20, points 6-9) against one real ``agenthost serve``
with the three first-party agents and their default settings: every endpoint a plugin could be
steered to is a local HTTP tripwire that counts requests (the summary's "requests that reached
forbidden hosts", which must be 0), and every backend is then made unreachable to show each
agent answers within 30 s with the status that says so."""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from flyteidl.admin import agent_pb2
from flyteidl.core.execution_pb2 import TaskExecution
from reliability_kit import record

from agenthost.literals import to_literal_map
from agenthost.testing import (
    RunningServer,
    Tripwire,
    make_inputs,
    make_template,
    running_server,
    tripwire_fixture,
    unreachable_endpoint,
)

SECTION = "plugin attacks"
FORBIDDEN_FIGURE = "requests that reached forbidden hosts"
UNREACHABLE_LIMIT_S = 30.0
PLUGINS = ("--allow", "agent-file-sensor", "--allow", "agent-bigquery", "--allow", "agent-openai")
KEY = "sk-reliability-0123456789"
FLYTEKIT_SENSOR = {
    "sensor_module": "flytekit.sensor.file_sensor",
    "sensor_name": "FileSensor",
    "sensor_config": None,
    "inputs": None,
}
SENSOR_URLS = [
    "http://{wire}/ok/latest/meta-data/iam/security-credentials/",
    "http://{wire}/missing",
    "HTTP://{wire}/ok/upper",
    "https://{wire}/ok",
    "ftp://{wire}/x",
    "webhdfs://{wire}/x",
    "sftp://{wire}/x",
    "github://org:repo@sha/x",
    "memory://x",
    "http://169.254.169.254/latest/meta-data/",
]
LOCAL_PATHS = ["/etc/shadow", "../../../../etc/passwd", "file:///proc/self/environ", "~/.bashrc"]
BQ_PROJECTS = ["p/../../../../admin?x=", "p#frag", "p%2F..%2Fadmin"]
BQ_METAS = [
    {"job_id": "../../../../datasets/d/tables/t/data", "project": "p", "location": None},
    {"job_id": "j?alt=media", "project": "p", "location": None},
    {"job_id": "j", "project": "p/../x", "location": "US"},
]


wire = tripwire_fixture()
"""The tripwire every plugin endpoint points at during the attacks."""


@pytest.fixture(scope="module")
def allowed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sensor-allowed")


@pytest.fixture(scope="module")
def server(wire: Tripwire, allowed: Path) -> Iterator[RunningServer]:
    env = {
        "AWS_ENDPOINT_URL": wire.url,
        "AWS_ACCESS_KEY_ID": "reliability",
        "AWS_SECRET_ACCESS_KEY": "reliability",
        "BIGQUERY_EMULATOR_HOST": wire.address,
        "OPENAI_BASE_URL": f"{wire.url}/v1",
        "_FSEC_FLYTE_OPENAI_API_KEY": KEY,
        "AGENT_FILE_SENSOR_LOCAL_PREFIXES": str(allowed),
    }
    with running_server(*PLUGINS, env=env) as running:
        yield running


def _status(call: Callable[[], Any]) -> tuple[str, str]:
    """``(code name, details)`` of ``call``; ``("OK", "")`` if it succeeded."""
    try:
        call()
    except grpc.RpcError as error:
        return error.code().name, error.details() or ""
    return "OK", ""


def _get(server: RunningServer, task_type: str, meta: bytes) -> Any:
    category = agent_pb2.TaskCategory(name=task_type, version=0)
    request = agent_pb2.GetTaskRequest(task_category=category, resource_meta=meta)
    return server.async_stub.GetTask(request, timeout=60).resource


def _sensor_create(server: RunningServer, task_type: str, path: str) -> Any:
    custom = FLYTEKIT_SENSOR if task_type == "sensor" else None
    template = make_template(task_type, inputs={"path": str}, custom=custom)
    request = agent_pb2.CreateTaskRequest(
        template=template, inputs=make_inputs(template, {"path": path})
    )
    return server.async_stub.CreateTask(request, timeout=60)


def _chat(server: RunningServer, organization: Any, config: Any = None) -> Any:
    custom = {"openai_organization": organization, "chatgpt_config": config or {"model": "m"}}
    template = make_template("chatgpt", inputs={"message": str}, outputs={"o0": str}, custom=custom)
    inputs = to_literal_map({"message": "hi"}, template.interface.inputs)
    header = agent_pb2.CreateRequestHeader(template=template)
    requests = iter(
        [
            agent_pb2.ExecuteTaskSyncRequest(header=header),
            agent_pb2.ExecuteTaskSyncRequest(inputs=inputs),
        ]
    )
    return list(server.sync_stub.ExecuteTaskSync(requests, timeout=60))


def _bigquery_create(server: RunningServer, custom: dict[str, Any]) -> Any:
    template = make_template("bigquery_query_job_task", custom=custom, sql="SELECT 1")
    return server.async_stub.CreateTask(agent_pb2.CreateTaskRequest(template=template), timeout=60)


def _batch_create(server: RunningServer, organization: Any) -> Any:
    custom = {"openai_organization": organization, "config": {}}
    template = make_template("openai-batch", inputs={"input_file_id": str}, custom=custom)
    inputs = to_literal_map({"input_file_id": "file-1"}, template.interface.inputs)
    request = agent_pb2.CreateTaskRequest(template=template, inputs=inputs)
    return server.async_stub.CreateTask(request, timeout=60)


def test_file_sensor_ssrf_is_refused_before_any_request(
    server: RunningServer, wire: Tripwire
) -> None:
    """F3/F4: task-chosen schemes at create (both task types) and in forged metadata."""
    attempts = 0
    for template in SENSOR_URLS:
        url = template.format(wire=wire.address)
        for task_type in ("file_sensor", "sensor"):
            code, details = _status(lambda: _sensor_create(server, task_type, url))
            assert code == "INVALID_ARGUMENT", (url, details)
            assert "scheme '" in details and "TypeError" not in details
        forged = {
            "file_sensor": {"sensor": "file_sensor", "inputs": {"path": url}},
            "sensor": {**FLYTEKIT_SENSOR, "inputs": {"path": url}},
        }
        for task_type, meta in forged.items():
            code, details = _status(lambda: _get(server, task_type, json.dumps(meta).encode()))
            assert code == "INVALID_ARGUMENT", (url, details)
        attempts += 4
    record(SECTION, "file sensor SSRF attempts refused", attempts)
    record(SECTION, FORBIDDEN_FIGURE, len(wire.requests))
    assert wire.requests == []


def test_file_sensor_local_paths_outside_the_prefixes_are_refused(
    server: RunningServer, allowed: Path
) -> None:
    """F1: with AGENT_FILE_SENSOR_LOCAL_PREFIXES set, no existence oracle outside it."""
    for path in LOCAL_PATHS:
        code, details = _status(lambda: _sensor_create(server, "file_sensor", path))
        assert code == "INVALID_ARGUMENT", (path, details)
        assert "outside the local directories" in details
    (allowed / "ready").touch()
    created = _sensor_create(server, "file_sensor", str(allowed / "ready"))
    assert _get(server, "file_sensor", created.resource_meta).phase == TaskExecution.SUCCEEDED
    record(SECTION, "local paths outside the prefixes refused", len(LOCAL_PATHS))


def test_bigquery_identifiers_are_checked_before_any_request(
    server: RunningServer, wire: Tripwire
) -> None:
    """B1: crafted ProjectID at create; crafted job_id/project in a forged meta."""
    for project in BQ_PROJECTS:
        code, details = _status(lambda: _bigquery_create(server, {"ProjectID": project}))
        assert code == "INVALID_ARGUMENT" and "custom.ProjectID" in details, details
    for meta in BQ_METAS:
        code, details = _status(
            lambda: _get(server, "bigquery_query_job_task", json.dumps(meta).encode())
        )
        assert code == "INVALID_ARGUMENT" and "resource_meta field" in details, details
    record(SECTION, "BigQuery injection attempts refused", len(BQ_PROJECTS) + len(BQ_METAS))
    record(SECTION, FORBIDDEN_FIGURE, len(wire.requests))
    assert wire.requests == []


def test_openai_header_injection_is_invalid_argument(server: RunningServer, wire: Tripwire) -> None:
    """A2: an organization with CR/LF, for chat and batch, and in a forged batch meta."""
    organization = "org\r\nX-Evil: 1"
    for call in (lambda: _chat(server, organization), lambda: _batch_create(server, organization)):
        code, details = _status(call)
        assert code == "INVALID_ARGUMENT" and "openai_organization" in details, details
    meta = json.dumps({"openai_org": organization, "batch_id": "b"}).encode()
    code, details = _status(lambda: _get(server, "openai-batch", meta))
    assert code == "INVALID_ARGUMENT" and "openai_org" in details, details
    record(SECTION, "OpenAI header injection attempts refused", 3)
    record(SECTION, FORBIDDEN_FIGURE, len(wire.requests))
    assert wire.requests == []


def test_unreachable_backends_answer_within_30_s_with_their_meaning(tmp_path: Path) -> None:
    """B2 and point 9: every backend black-holed, default timeouts and retries."""
    with unreachable_endpoint() as address:
        env = {
            "AWS_ENDPOINT_URL": f"http://{address}",
            "AWS_ACCESS_KEY_ID": "reliability",
            "AWS_SECRET_ACCESS_KEY": "reliability",
            "AWS_DEFAULT_REGION": "us-east-1",
            "STORAGE_EMULATOR_HOST": f"http://{address}",
            "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
            "BIGQUERY_EMULATOR_HOST": address,
            "OPENAI_BASE_URL": f"http://{address}/v1",
            "_FSEC_FLYTE_OPENAI_API_KEY": KEY,
        }
        with running_server(*PLUGINS, env=env) as server:
            s3 = _sensor_create(server, "file_sensor", "s3://bucket/key").resource_meta
            gs = _sensor_create(server, "file_sensor", "gs://bucket/key").resource_meta
            calls: dict[str, Callable[[], Any]] = {
                "bigquery create": lambda: _bigquery_create(server, {"ProjectID": "my-project"}),
                "chatgpt": lambda: _chat(server, None),
                "openai-batch create": lambda: _batch_create(server, None),
                "file sensor s3 poke": lambda: _get(server, "file_sensor", s3),
                "file sensor gs poke": lambda: _get(server, "file_sensor", gs),
            }
            with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
                futures = {name: pool.submit(_timed, call) for name, call in calls.items()}
                results = {name: future.result() for name, future in futures.items()}
    for name, (seconds, outcome) in results.items():
        record(SECTION, f"unreachable {name}: s / answer", f"{seconds:.1f} / {outcome[:60]}")
    slowest = max(seconds for seconds, _ in results.values())
    record(SECTION, "slowest answer with every backend unreachable (s)", round(slowest, 1))
    for name in ("bigquery create", "chatgpt", "openai-batch create"):
        assert results[name][1].startswith("UNAVAILABLE"), (name, results[name])
    for name in ("file sensor s3 poke", "file sensor gs poke"):
        assert results[name][1].startswith("RUNNING"), (name, results[name])
        assert "did not answer within" in results[name][1] or "transient" in results[name][1]
    assert slowest < UNREACHABLE_LIMIT_S, results


def _timed(call: Callable[[], Any]) -> tuple[float, str]:
    started = time.monotonic()
    try:
        result = call()
    except grpc.RpcError as error:
        return time.monotonic() - started, f"{error.code().name}: {error.details()}"
    seconds = time.monotonic() - started
    phase = getattr(result, "phase", None)
    if phase is not None:
        return seconds, f"{TaskExecution.Phase.Name(phase)}: {result.message}"
    return seconds, f"OK: {result!r}"[:200]


def test_malformed_content_is_the_callers_fault(server: RunningServer, allowed: Path) -> None:
    """P3c and point 10: NaN/±Infinity in each first-party agent's ``custom``, and an input
    of the wrong literal type, are INVALID_ARGUMENT naming the field, never an agent failure."""
    nan, inf = float("nan"), float("inf")
    ready = str(allowed / "ready")
    sensor = make_template(
        "file_sensor", inputs={"path": str}, custom={"sensor_config": {"x": nan}}
    )
    sensor_call = agent_pb2.CreateTaskRequest(
        template=sensor, inputs=make_inputs(sensor, {"path": ready})
    )
    custom = {"ProjectID": "my-project", "Location": "US", "maximumBytesBilled": inf}
    cases: dict[str, tuple[Callable[[], Any], str]] = {
        "file sensor sensor_config": (
            lambda: server.async_stub.CreateTask(sensor_call, timeout=60),
            "'sensor_config.x'",
        ),
        "chatgpt temperature": (
            lambda: _chat(server, None, {"model": "m", "temperature": nan}),
            "'chatgpt_config.temperature'",
        ),
        "bigquery maximumBytesBilled": (
            lambda: _bigquery_create(server, custom),
            "'maximumBytesBilled'",
        ),
    }
    declared = make_template("file_sensor", inputs={"path": str})
    wrong = make_inputs(make_template("file_sensor", inputs={"path": int}), {"path": 3})
    wrong_call = agent_pb2.CreateTaskRequest(template=declared, inputs=wrong)
    cases["file sensor path given as an integer"] = (
        lambda: server.async_stub.CreateTask(wrong_call, timeout=60),
        "input 'path': expected string, got integer",
    )
    for name, (call, field) in cases.items():
        code, details = _status(call)
        assert code == "INVALID_ARGUMENT" and field in details, (name, code, details)
    record(SECTION, "non-finite numbers and wrong input types refused (INVALID_ARGUMENT)", 4)


def test_create_task_never_returns_what_get_task_refuses(
    server: RunningServer, allowed: Path
) -> None:
    """P3d and point 11: a 70,000-character path and a 60,000-key ``sensor_config`` would
    make a ``resource_meta`` over GetTask's limit; CreateTask refuses them, naming it."""
    many = {f"k{i}": i for i in range(60_000)}
    sensor = make_template("file_sensor", inputs={"path": str}, custom={"sensor_config": many})
    big_config = agent_pb2.CreateTaskRequest(
        template=sensor, inputs=make_inputs(sensor, {"path": str(allowed / "ready")})
    )
    calls = {
        "70,000-character path": lambda: _sensor_create(
            server, "file_sensor", "s3://bucket/" + "a" * 70_000
        ),
        "60,000-key sensor_config": lambda: server.async_stub.CreateTask(big_config, timeout=60),
    }
    for name, call in calls.items():
        code, details = _status(call)
        assert code == "INVALID_ARGUMENT", (name, code, details)
        assert "65536 bytes GetTask accepts" in details, (name, details)
    record(SECTION, "oversize resource_meta refused at CreateTask", len(calls))
