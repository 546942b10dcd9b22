"""The bursts of issue 25 from a second, independent client implementation: Node's
``@grpc/grpc-js``, installed from npm by the test (``npm ci`` of the committed
``grpcjs/package-lock.json`` into a temporary directory), so that queueing inside one client
library cannot hide a call lost by the server. Skipped when ``node``/``npm`` are missing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from flyteidl.admin import agent_pb2
from hardening_kit import EXECUTE, create_request, get_request
from reliability_kit import record, rel_server

from agenthost.testing import RunningServer, make_inputs, make_template

HERE = Path(__file__).resolve().parent
MODULES = "fake_plugins.basic,fake_plugins.hardening"
SYNC_AGENT_SECONDS = float(os.environ.get("AGENTHOST_BURST_AGENT_SECONDS", "20"))
METHODS: dict[str, str] = {}
"""The method path of each request file (filled by the ``requests`` fixture)."""

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason="node and npm are needed for the @grpc/grpc-js client",
)


@pytest.fixture(scope="module")
def grpcjs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with ``burst.js`` and ``@grpc/grpc-js`` installed."""
    folder = tmp_path_factory.mktemp("grpcjs")
    for name in ("package.json", "package-lock.json", "burst.js"):
        shutil.copy(HERE / "grpcjs" / name, folder / name)
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
        cwd=folder,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return folder


@pytest.fixture(scope="module")
def requests(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Serialized requests for the bursts, one file each."""
    folder = tmp_path_factory.mktemp("requests")
    template = make_template("fast_async", inputs={"x": int})
    sync = make_template("sleep_sync", custom={"seconds": SYNC_AGENT_SECONDS})
    meta = b'{"job_id": "job-none", "x": 2}'
    messages = {
        "header": agent_pb2.ExecuteTaskSyncRequest(
            header=agent_pb2.CreateRequestHeader(template=sync)
        ).SerializeToString(),
        "inputs": agent_pb2.ExecuteTaskSyncRequest(
            inputs=make_inputs(sync, {})
        ).SerializeToString(),
    }
    for protocol in ("v1", "v2"):
        inputs = make_inputs(template, {"x": 2})
        METHODS[f"create-{protocol}"], messages[f"create-{protocol}"] = create_request(
            template, inputs, protocol
        )
        METHODS[f"get-{protocol}"], messages[f"get-{protocol}"] = get_request(
            "fast_async", meta, protocol
        )
    paths = {}
    for name, message in messages.items():
        paths[name] = folder / f"{name}.bin"
        paths[name].write_bytes(message)
    return paths


def _run(grpcjs: Path, address: str, *args: str) -> dict[str, object]:
    done = subprocess.run(
        ["node", str(grpcjs / "burst.js"), address, *args],
        cwd=grpcjs,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _record(label: str, result: dict[str, object]) -> None:
    record("bursts", f"{label} (grpc-js): answers", result["codes"])
    record(
        "bursts",
        f"{label} (grpc-js): p99 / total",
        f"{result['p99']:.2f} s / {result['seconds']:.1f} s",
    )


@pytest.fixture(scope="module", params=[1, 2], ids=["single", "workers-2"])
def server(request: pytest.FixtureRequest, markers: Path) -> Iterator[tuple[RunningServer, str]]:
    """A server with default options, single-process or ``--workers 2``, and a label suffix."""
    workers = int(request.param)
    with rel_server(markers, "--workers", str(workers), modules=MODULES) as running:
        yield running, (", --workers 2" if workers > 1 else "")


def test_unary_bursts(
    server: tuple[RunningServer, str], grpcjs: Path, requests: dict[str, Path]
) -> None:
    running, workers = server
    for protocol in ("v1", "v2"):
        for kind in ("create", "get"):
            key = f"{kind}-{protocol}"
            result = _run(
                grpcjs, running.address, "unary", METHODS[key], "5000", str(requests[key])
            )
            name = "CreateTask" if kind == "create" else "GetTask"
            _record(f"5,000 {protocol} {name} at once{workers}", result)
            assert result["codes"] == {"OK": 5000}


def test_execute_task_sync_burst(
    server: tuple[RunningServer, str], grpcjs: Path, requests: dict[str, Path]
) -> None:
    running, workers = server
    result = _run(
        grpcjs,
        running.address,
        "stream",
        EXECUTE,
        "2000",
        str(requests["header"]),
        str(requests["inputs"]),
    )
    _record(f"2,000 ExecuteTaskSync of a {SYNC_AGENT_SECONDS:g} s agent{workers}", result)
    assert result["codes"] == {"OK": 2000}
