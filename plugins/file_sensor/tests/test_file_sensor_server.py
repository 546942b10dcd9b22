"""FileSensor through the real server: ``agenthost serve`` as a subprocess, flyteidl stubs,
local files and a real moto S3 server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from file_sensor_support import (
    BACKENDLESS_CANDIDATES,
    GcsEmulator,
    MotoServer,
    create,
    file_sensor_template,
    get,
    protocol_without_backend,
)
from flyteidl.admin import agent_pb2

from agenthost import Phase
from agenthost.testing import (
    RunningServer,
    free_port,
    make_template,
    running_server,
    stop_process,
    wait_for,
)

FLYTEKIT_CUSTOM = {
    "sensor_module": "flytekit.sensor.file_sensor",
    "sensor_name": "FileSensor",
    "sensor_config": None,
    "inputs": None,
}
"""``custom`` of a flytekit 1.16 ``FileSensor`` task, as serialized by flytekit."""


@pytest.fixture(scope="module")
def server(moto_server: MotoServer, gcs_emulator: GcsEmulator) -> Iterator[RunningServer]:
    """One server for the module, its AWS and GCS environments pointed at the emulators."""
    env = {
        **moto_server.env,
        **gcs_emulator.env,
        "AGENT_FILE_SENSOR_ALLOWED_SCHEMES": ",".join(BACKENDLESS_CANDIDATES),
    }
    with running_server("--allow", "agent-file-sensor", env=env) as running:
        yield running


def test_local_file_running_then_succeeded(server: RunningServer, tmp_path: Path) -> None:
    target = tmp_path / "_SUCCESS"
    meta = create(server, file_sensor_template(), {"path": str(target)})

    waiting = get(server, "file_sensor", meta)
    assert waiting.phase == Phase.RUNNING
    assert str(target) in waiting.message

    target.touch()
    assert get(server, "file_sensor", meta).phase == Phase.SUCCEEDED
    server.async_stub.DeleteTask(
        agent_pb2.DeleteTaskRequest(
            resource_meta=meta, task_category=agent_pb2.TaskCategory(name="file_sensor")
        ),
        timeout=30,
    )


def test_s3_object_running_then_succeeded(server: RunningServer, moto_server: MotoServer) -> None:
    bucket = "server-test-bucket"
    meta = create(server, file_sensor_template(), {"path": f"s3://{bucket}/daily/_SUCCESS"})
    assert get(server, "file_sensor", meta).phase == Phase.RUNNING

    client = moto_server.s3_client()
    client.create_bucket(Bucket=bucket)
    assert get(server, "file_sensor", meta).phase == Phase.RUNNING

    client.put_object(Bucket=bucket, Key="daily/_SUCCESS", Body=b"")
    assert get(server, "file_sensor", meta).phase == Phase.SUCCEEDED


def test_gcs_object_running_then_succeeded(
    server: RunningServer, gcs_emulator: GcsEmulator
) -> None:
    bucket = "server-test-gcs-bucket"
    meta = create(server, file_sensor_template(), {"path": f"gs://{bucket}/out/_SUCCESS"})
    assert get(server, "file_sensor", meta).phase == Phase.RUNNING

    gcs_emulator.create_bucket(bucket)
    assert get(server, "file_sensor", meta).phase == Phase.RUNNING

    gcs_emulator.put_object(bucket, "out/_SUCCESS")
    assert get(server, "file_sensor", meta).phase == Phase.SUCCEEDED


def test_flytekit_sensor_template(server: RunningServer, tmp_path: Path) -> None:
    target = tmp_path / "flag"
    template = make_template("sensor", inputs={"path": str}, custom=FLYTEKIT_CUSTOM)
    meta = create(server, template, {"path": str(target)})
    assert get(server, "sensor", meta).phase == Phase.RUNNING
    target.write_text("ready")
    assert get(server, "sensor", meta).phase == Phase.SUCCEEDED


def test_missing_backend_is_failed_precondition(server: RunningServer) -> None:
    protocol, package = protocol_without_backend()
    with pytest.raises(grpc.RpcError) as caught:
        create(server, file_sensor_template(), {"path": f"{protocol}://container/blob"})
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"{protocol}:// paths need the {package} package" in caught.value.details()
    assert "Traceback" not in caught.value.details()


@pytest.mark.parametrize(
    ("interface", "values", "expected"),
    [
        ({"other": str}, {"other": "x"}, "missing input(s): path"),
        ({"path": str, "extra": int}, {"path": "/x", "extra": 1}, "unexpected input(s): extra"),
        ({"path": int}, {"path": 3}, "input 'path' should be str, got int"),
        ({"path": str}, {"path": "nosuchscheme://b/k"}, "scheme 'nosuchscheme://', which"),
    ],
    ids=["missing", "extra", "not-a-string", "unknown-scheme"],
)
def test_bad_requests_are_invalid_argument(
    server: RunningServer, interface: Any, values: Any, expected: str
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        create(server, file_sensor_template(**interface), values)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert expected in caught.value.details()
    assert "Traceback" not in caught.value.details()


def test_unknown_sensor_alias_is_invalid_argument(server: RunningServer) -> None:
    custom = {**FLYTEKIT_CUSTOM, "sensor_module": "my.sensors", "sensor_name": "Sensor"}
    template = make_template("sensor", inputs={"path": str}, custom=custom)
    with pytest.raises(grpc.RpcError) as caught:
        create(server, template, {"path": "/tmp"})
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = caught.value.details()
    assert "sensor_module='my.sensors' sensor_name='Sensor'" in details
    assert "flytekit.sensor.file_sensor.FileSensor" in details


def test_unreachable_s3_endpoint_keeps_running(moto_server: MotoServer) -> None:
    env = {**moto_server.env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    with running_server("--allow", "agent-file-sensor", env=env) as unreachable:
        meta = create(unreachable, file_sensor_template(), {"path": "s3://bucket/key"})
        resource = get(unreachable, "file_sensor", meta)
    assert resource.phase == Phase.RUNNING
    assert "transient error" in resource.message
    assert "EndpointConnectionError" in resource.message


def test_entry_point_serves_file_sensor_and_sensor(server: RunningServer) -> None:
    response = server.metadata_stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=30)
    served = {c.name for agent in response.agents for c in agent.supported_task_categories}
    assert {"file_sensor", "sensor"} <= served


def test_sessions_are_closed_on_shutdown(
    moto_server: MotoServer, gcs_emulator: GcsEmulator
) -> None:
    env = {**moto_server.env, **gcs_emulator.env}
    with running_server("--allow", "agent-file-sensor", env=env) as own:
        for path in ("s3://closing-bucket/x", "gs://closing-bucket/x"):
            meta = create(own, file_sensor_template(), {"path": path})
            assert get(own, "file_sensor", meta).phase == Phase.RUNNING
        assert stop_process(own.process) == 0
        wait_for(lambda: "stopped" in own.logs(), timeout=10)
    assert "Unclosed" not in own.logs()


def test_s3_over_v2_uses_the_connections_credentials(bucket_name: str) -> None:
    """Flyte 2: the executor sends the task's AWS credentials in ``connection`` on CreateTask
    and every GetTask; with a moto server that checks credentials, they make the sensor see the
    object, the deployment's (fake) ones do not, and the secret never reaches logs or replies."""
    from file_sensor_support import FAKE_CREDENTIALS, start_strict_moto, stop

    from agenthost.testing import make_inputs

    connector_pb2 = pytest.importorskip("flyteidl2.connector.connector_pb2")
    from flyteidl2.connector import service_pb2_grpc
    from flyteidl2.core import security_pb2, tasks_pb2
    from flyteidl2.task import common_pb2

    strict, secrets = start_strict_moto(bucket_name, "ready")
    try:
        env = {"AWS_ENDPOINT_URL": strict.endpoint, **FAKE_CREDENTIALS}
        with running_server("--allow", "agent-file-sensor", env=env) as running:
            stub = service_pb2_grpc.AsyncConnectorServiceStub(running.channel)
            template = file_sensor_template()
            inputs = make_inputs(template, {"path": f"s3://{bucket_name}/ready"})
            named = common_pb2.NamedLiteral(name="path")
            named.value.ParseFromString(inputs.literals["path"].SerializeToString())
            category = connector_pb2.TaskCategory(name="file_sensor", version=0)

            def run(connection: Any) -> Any:
                created = stub.CreateTask(
                    connector_pb2.CreateTaskRequest(
                        template=tasks_pb2.TaskTemplate.FromString(template.SerializeToString()),
                        inputs=common_pb2.Inputs(literals=[named]),
                        connection=connection,
                    ),
                    timeout=30,
                )
                request = connector_pb2.GetTaskRequest(
                    task_category=category,
                    resource_meta=created.resource_meta,
                    connection=connection,
                )
                return created.resource_meta, stub.GetTask(request, timeout=60).resource

            meta, with_secrets = run(security_pb2.Connection(secrets=secrets))
            _, without = run(security_pb2.Connection())
            logs = running.logs()
    finally:
        stop(strict.process)
    assert with_secrets.phase == Phase.SUCCEEDED, with_secrets.message
    assert without.phase == Phase.FAILED
    assert "PermissionError" in without.message
    secret = secrets["aws_secret_access_key"]
    assert secret.encode() not in meta
    assert secret not in str(with_secrets) + str(without) + logs
