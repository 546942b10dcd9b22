"""FileSensor driven in-process through the host SDK (create -> encode/decode -> get), with
real local files and a real moto S3 server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from file_sensor_support import (
    MotoServer,
    protocol_without_backend,
    start_moto,
    start_strict_moto,
    stop,
)

from agent_file_sensor import (
    FLYTEKIT_ALIAS,
    TASK_TYPE,
    FileSensor,
    PathPolicy,
    UnsupportedPathError,
)
from agent_file_sensor.clients import FilesystemCache
from agent_file_sensor.paths import DEFAULT_SCHEMES
from agenthost import InvalidRequestError, MisconfiguredError, Phase, Resource
from agenthost.sensor import SensorRouter
from agenthost.testing import free_port, make_inputs, make_template

FLYTEKIT_CUSTOM = {
    "sensor_module": "flytekit.sensor.file_sensor",
    "sensor_name": "FileSensor",
    "sensor_config": None,
    "inputs": None,
}
"""``custom`` of a flytekit 1.16 ``FileSensor`` task, as serialized by flytekit."""


def create_and_get(
    agent: Any, template: Any, inputs: Any, polls: int = 1, between: Any = None
) -> list[Resource]:
    """Create once, then ``get`` ``polls`` times on one event loop (calling ``between(i)``
    before poll ``i``), decoding the metadata from bytes each time as the server does."""

    async def run() -> list[Resource]:
        meta = await agent.create(template, inputs)
        encoded = meta.encode()
        results = []
        for i in range(polls):
            if between is not None:
                between(i)
            results.append(await agent.get(agent.metadata_type.decode(encoded)))
        for sensor in getattr(agent, "by_task_type", {agent.task_type_name: agent}).values():
            await sensor.aclose()
        return results

    return asyncio.run(run())


def file_sensor_task(path: Any = None, **interface: Any) -> tuple[Any, Any]:
    """A ``file_sensor`` template with input ``path: str`` (or ``interface``) and its inputs."""
    types = interface or {"path": str}
    template = make_template(TASK_TYPE, inputs=types)
    values = {"path": path} if path is not None else {}
    return template, make_inputs(template, values)


def test_local_path_is_running_until_created(tmp_path: Path) -> None:
    target = tmp_path / "incoming" / "data.csv"
    template, inputs = file_sensor_task(str(target))

    def create_on_second_poll(i: int) -> None:
        if i == 1:
            target.parent.mkdir()
            target.write_text("a,b\n")

    first, second = create_and_get(FileSensor(), template, inputs, 2, create_on_second_poll)
    assert first.phase == Phase.RUNNING
    assert str(target) in (first.message or "")
    assert second.phase == Phase.SUCCEEDED


def test_file_url_succeeds_for_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "ready"
    target.touch()
    template, inputs = file_sensor_task(target.as_uri())
    (result,) = create_and_get(FileSensor(), template, inputs)
    assert result.phase == Phase.SUCCEEDED


def test_s3_object_running_until_bucket_and_object_exist(
    s3_env: MotoServer, bucket_name: str
) -> None:
    template, inputs = file_sensor_task(f"s3://{bucket_name}/day=1/_SUCCESS")
    client = s3_env.s3_client()

    def make_object(i: int) -> None:
        if i == 1:
            client.create_bucket(Bucket=bucket_name)
        if i == 2:
            client.put_object(Bucket=bucket_name, Key="day=1/_SUCCESS", Body=b"")

    results = create_and_get(FileSensor(), template, inputs, 3, make_object)
    assert [r.phase for r in results] == [Phase.RUNNING, Phase.RUNNING, Phase.SUCCEEDED]


def test_s3_filesystem_is_reused_across_pokes(s3_env: MotoServer, bucket_name: str) -> None:
    s3_env.s3_client().create_bucket(Bucket=bucket_name)
    sensor = FileSensor()

    async def run() -> tuple[Any, Any]:
        first = await sensor.filesystems.filesystem("s3")
        await sensor.poke(f"s3://{bucket_name}/x")
        await sensor.poke(f"s3://{bucket_name}/y")
        again = await sensor.filesystems.filesystem("s3")
        await sensor.aclose()
        return first, again

    first, again = asyncio.run(run())
    assert first is again
    assert first.asynchronous is True


def test_s3_unreachable_endpoint_is_transient(
    monkeypatch: pytest.MonkeyPatch, s3_env: MotoServer
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    template, inputs = file_sensor_task("s3://some-bucket/key")
    sensor = FileSensor()
    (result,) = create_and_get(sensor, template, inputs)
    assert result.phase == Phase.RUNNING
    assert "transient error: " in (result.message or "")
    assert sensor.transient_errors == 1


def test_s3_rejected_credentials_fail(s3_env: MotoServer, bucket_name: str) -> None:
    strict = start_moto({"INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("AWS_ENDPOINT_URL", strict.endpoint)
            template, inputs = file_sensor_task(f"s3://{bucket_name}/key")
            (result,) = create_and_get(FileSensor(), template, inputs)
    finally:
        stop(strict.process)
    assert result.phase == Phase.FAILED
    assert "PermissionError" in (result.message or "")


@pytest.mark.parametrize(
    ("interface", "value", "expected"),
    [
        ({"other": str}, None, "missing input(s): path"),
        ({"path": str, "extra": int}, None, "unexpected input(s): extra"),
        ({"path": int}, 3, "input 'path' should be str, got int"),
    ],
)
def test_bad_inputs_are_invalid_requests(interface: Any, value: Any, expected: str) -> None:
    template = make_template(TASK_TYPE, inputs=interface)
    values = {"path": value} if value is not None else {}
    if "other" in interface:
        values = {"other": "x"}
    if "extra" in interface:
        values = {"path": "/tmp/x", "extra": 1}
    with pytest.raises(InvalidRequestError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        asyncio.run(FileSensor().create(template, make_inputs(template, values)))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("nosuchscheme://bucket/key", "scheme 'nosuchscheme://', which this host does not allow"),
        ("simplecache::s3://bucket/key", "chained URL"),
        ("zip://inner.txt", "scheme 'zip://', which this host does not allow"),
        ("   ", "is empty"),
    ],
)
def test_unsupported_paths_are_rejected_at_create(path: str, expected: str) -> None:
    template, inputs = file_sensor_task(path)
    with pytest.raises(UnsupportedPathError, match=expected):
        asyncio.run(FileSensor().create(template, inputs))


def test_missing_backend_is_a_misconfiguration_at_create() -> None:
    protocol, package = protocol_without_backend()
    template, inputs = file_sensor_task(f"{protocol}://container/key")
    sensor = FileSensor(policy=PathPolicy(schemes=DEFAULT_SCHEMES | {protocol}))
    with pytest.raises(MisconfiguredError, match=f"{protocol}:// paths need the {package} package"):
        asyncio.run(sensor.create(template, inputs))


def test_flytekit_template_routes_through_sensor_router(tmp_path: Path) -> None:
    target = tmp_path / "flag"
    target.touch()
    template = make_template("sensor", inputs={"path": str}, custom=FLYTEKIT_CUSTOM)
    router = SensorRouter([FileSensor()])
    (result,) = create_and_get(router, template, make_inputs(template, {"path": str(target)}))
    assert result.phase == Phase.SUCCEEDED


def test_router_rejects_unknown_alias(tmp_path: Path) -> None:
    custom = dict(FLYTEKIT_CUSTOM, sensor_name="NoSuchSensor")
    template = make_template("sensor", inputs={"path": str}, custom=custom)
    router = SensorRouter([FileSensor()])
    inputs = make_inputs(template, {"path": str(tmp_path)})
    with pytest.raises(InvalidRequestError, match="sensor_name='NoSuchSensor'"):
        asyncio.run(router.create(template, inputs))


def test_alias_is_flytekits_file_sensor() -> None:
    assert FileSensor().aliases == (FLYTEKIT_ALIAS,)
    assert FLYTEKIT_ALIAS == ("flytekit.sensor.file_sensor", "FileSensor")


def test_import_pulls_in_no_fsspec_backend() -> None:
    code = (
        "import sys, agent_file_sensor; agent_file_sensor.FileSensor(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'fsspec', 's3fs', 'gcsfs', 'botocore', 'aiobotocore', 'aiohttp'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_entry_point_is_the_plugin_module_registering_one_sensor() -> None:
    from agenthost.plugins import load_plugins

    result = load_plugins(allow=["file_sensor"], strict=True)
    [report] = [p for p in result.plugins if p.name == "file_sensor"]
    assert (report.status, report.entry_point) == ("loaded", "agent_file_sensor.plugin")
    assert [(type(a).__name__, a.task_type_name) for a in report.agents] == [
        ("FileSensor", TASK_TYPE)
    ]


def test_s3_uses_the_connections_credentials(s3_env: MotoServer, bucket_name: str) -> None:
    """Against a moto server that checks credentials (IAM): the deployment's (fake) credentials
    are refused, the task's connection credentials are accepted."""
    from agenthost import Connection
    from agenthost.connection import using_connection

    strict, secrets = start_strict_moto(bucket_name, "ready")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("AWS_ENDPOINT_URL", strict.endpoint)
            template, inputs = file_sensor_task(f"s3://{bucket_name}/ready")
            sensor = FileSensor()
            (deployment,) = create_and_get(sensor, template, inputs)
            with using_connection(Connection(secrets=secrets)):
                (task,) = create_and_get(sensor, template, inputs)
    finally:
        stop(strict.process)
    assert deployment.phase == Phase.FAILED
    assert "PermissionError" in (deployment.message or "")
    assert task.phase == Phase.SUCCEEDED, task.message
    assert secrets["aws_secret_access_key"] not in (deployment.message or "")


def test_filesystem_cache_is_bounded() -> None:
    options = iter(range(10))
    cache = FilesystemCache(options_for=lambda protocol: {"generation": next(options)}, max_size=2)

    async def run() -> int:
        for _ in range(3):
            await cache.filesystem("file")
        return len(cache._by_loop[asyncio.get_running_loop()])

    assert asyncio.run(run()) == 2
