"""The path policy through the real server: schemes that would make the host send requests
where a task chooses are INVALID_ARGUMENT at CreateTask and at GetTask (a forged
``resource_meta``), with a local HTTP tripwire proving no request left; operators widen the
schemes and restrict local paths with environment variables; storage that never answers is
reported within the poke timeout."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from file_sensor_support import FAKE_CREDENTIALS, create, file_sensor_template, get

from agenthost import Phase
from agenthost.testing import (
    RunningServer,
    Tripwire,
    free_port,
    make_template,
    running_server,
    tripwire_fixture,
)
from agenthost.testing import unreachable_endpoint as blackhole

FLYTEKIT_CUSTOM = {
    "sensor_module": "flytekit.sensor.file_sensor",
    "sensor_name": "FileSensor",
    "sensor_config": None,
    "inputs": None,
}

FORBIDDEN = [
    ("http://{wire}/ok/latest/meta-data/iam/security-credentials/", "http://"),
    ("HTTP://{wire}/ok/upper", "http://"),
    ("https://{wire}/ok", "https://"),
    ("ftp://{wire}/x", "ftp://"),
    ("webhdfs://{wire}/x", "webhdfs://"),
    ("github://org:repo@sha/x", "github://"),
    ("memory://x", "memory://"),
    ("sftp://{wire}/x", "sftp://"),
]
"""Paths with schemes the host does not allow by default, and the scheme the error names."""


wire = tripwire_fixture()
"""A local HTTP tripwire: the endpoint every request this module provokes must never reach."""


@pytest.fixture(scope="module")
def server(wire: Tripwire) -> Iterator[RunningServer]:
    """A server with the default policy; its S3 endpoint is the tripwire too, so nothing the
    tests send may reach it."""
    env = {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": wire.url}
    with running_server("--allow", "agent-file-sensor", env=env) as running:
        yield running


def _refused(call: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    assert "Traceback" not in caught.value.details()
    assert "TypeError" not in caught.value.details()
    return caught.value


@pytest.mark.parametrize(("path", "scheme"), FORBIDDEN, ids=[s for _, s in FORBIDDEN])
@pytest.mark.parametrize("task_type", ["file_sensor", "sensor"])
def test_forbidden_scheme_is_invalid_argument_at_create(
    server: RunningServer, wire: Tripwire, path: str, scheme: str, task_type: str
) -> None:
    custom = FLYTEKIT_CUSTOM if task_type == "sensor" else None
    template = make_template(task_type, inputs={"path": str}, custom=custom)
    url = path.format(wire=wire.address)

    error = _refused(lambda: create(server, template, {"path": url}))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"scheme '{scheme}'" in error.details()
    assert "AGENT_FILE_SENSOR_ALLOWED_SCHEMES" in error.details()
    assert wire.requests == []


@pytest.mark.parametrize(("path", "scheme"), FORBIDDEN, ids=[s for _, s in FORBIDDEN])
def test_forged_resource_meta_is_refused_before_any_request(
    server: RunningServer, wire: Tripwire, path: str, scheme: str
) -> None:
    url = path.format(wire=wire.address)
    ours = {"sensor": "file_sensor", "inputs": {"path": url}, "config": None, "version": 0}
    flytekits = {**FLYTEKIT_CUSTOM, "inputs": {"path": url}}
    for task_type, meta in (("file_sensor", ours), ("sensor", flytekits)):
        error = _refused(lambda: get(server, task_type, json.dumps(meta).encode()))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert f"scheme '{scheme}'" in error.details()
    assert wire.requests == []


def test_allowed_schemes_still_work(server: RunningServer, tmp_path: Path) -> None:
    target = tmp_path / "flag"
    target.touch()
    for path in (str(target), f"file://{target}"):
        meta = create(server, file_sensor_template(), {"path": path})
        assert get(server, "file_sensor", meta).phase == Phase.SUCCEEDED


@pytest.fixture(scope="module")
def allowed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("policy")
    (root / "allowed").mkdir()
    (root / "allowed" / "ready").touch()
    (root / "outside").touch()
    (root / "allowed" / "escape").symlink_to(root / "outside")
    return root


@pytest.fixture(scope="module")
def configured(allowed_dir: Path) -> Iterator[RunningServer]:
    """A server whose operator allows ``ftp://`` and restricts local paths to one directory."""
    env = {
        "AGENT_FILE_SENSOR_ALLOWED_SCHEMES": "ftp",
        "AGENT_FILE_SENSOR_LOCAL_PREFIXES": str(allowed_dir / "allowed"),
    }
    with running_server("--allow", "agent-file-sensor", env=env) as running:
        yield running


def test_local_paths_inside_the_prefix_are_served(
    configured: RunningServer, allowed_dir: Path
) -> None:
    inside = allowed_dir / "allowed" / "ready"
    for path in (str(inside), f"file://{inside}", str(allowed_dir / "allowed" / "not-yet")):
        meta = create(configured, file_sensor_template(), {"path": path})
        phase = get(configured, "file_sensor", meta).phase
        assert phase == (Phase.RUNNING if path.endswith("not-yet") else Phase.SUCCEEDED)


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "{root}/outside",
        "{root}/allowed/../outside",
        "{root}/allowed/escape",
        "file://{root}/outside",
        "local://{root}/outside",
        "~/.bashrc",
        "../../../../etc/passwd",
    ],
)
def test_local_paths_outside_the_prefix_are_invalid_argument(
    configured: RunningServer, allowed_dir: Path, path: str
) -> None:
    shown = path.format(root=allowed_dir)
    error = _refused(lambda: create(configured, file_sensor_template(), {"path": shown}))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "outside the local directories" in error.details()
    forged = {"sensor": "file_sensor", "inputs": {"path": shown}, "config": None, "version": 0}
    error = _refused(lambda: get(configured, "file_sensor", json.dumps(forged).encode()))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_widened_scheme_is_served_and_never_a_type_error(configured: RunningServer) -> None:
    meta = create(configured, file_sensor_template(), {"path": f"ftp://127.0.0.1:{free_port()}/x"})
    resource = get(configured, "file_sensor", meta)
    assert resource.phase == Phase.RUNNING, resource.message
    assert "transient error" in resource.message
    assert "TypeError" not in resource.message
    error = _refused(lambda: create(configured, file_sensor_template(), {"path": "http://x/"}))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("storage", ["s3", "gs"])
def test_storage_that_never_answers_is_reported_within_the_poke_timeout(storage: str) -> None:
    with blackhole() as address:
        env = {
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": f"http://{address}",
            "STORAGE_EMULATOR_HOST": f"http://{address}",
            "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
            "AGENT_FILE_SENSOR_POKE_TIMEOUT_SECONDS": "2",
        }
        with running_server("--allow", "agent-file-sensor", env=env) as server:
            meta = create(server, file_sensor_template(), {"path": f"{storage}://bucket/key"})
            started = time.monotonic()
            resource = get(server, "file_sensor", meta)
            took = time.monotonic() - started
    assert resource.phase == Phase.RUNNING
    assert f"{storage}:// storage did not answer within 2 s" in resource.message
    assert took < 10, took


def test_no_request_reached_the_tripwire(wire: Tripwire) -> None:
    assert wire.requests == [], os.linesep.join(wire.requests)
