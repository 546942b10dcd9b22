"""Flyte 2: flyte-sdk 2.12.1's serialized Databricks template over ``flyteidl2.connector``'s
``AsyncConnectorService``, with the task's ``databricks_token`` in ``connection``: that token,
not the host's, reaches the fake on every call, and it appears in no reply, handle or log."""

from __future__ import annotations

import json
from pathlib import Path

from databricks_support import TOKEN, server_env
from fake_databricks import FakeDatabricks
from templates import new_cluster_conf, spark_custom, template

from agenthost.testing import RunningServer, run_on_server, running_server

DATA = Path(__file__).parent / "data"


def test_flyte_sdk_template_over_v2_uses_the_connection_token(fake: FakeDatabricks) -> None:
    from flyteidl2.connector import connector_pb2, service_pb2_grpc
    from flyteidl2.core import security_pb2, tasks_pb2
    from flyteidl2.task import common_pb2

    template = tasks_pb2.TaskTemplate.FromString(
        (DATA / "flyte_sdk_2_12_1_task_template.pb").read_bytes()
    )
    template.custom.fields["databricksInstance"].string_value = fake.netloc
    task_token = "dapi-flyte2-connection-token"
    fake.state.tokens.add(task_token)
    connection = security_pb2.Connection(secrets={"databricks_token": task_token})
    category = connector_pb2.TaskCategory(name="databricks", version=0)
    n = common_pb2.NamedLiteral(name="n")
    n.value.scalar.primitive.integer = 3
    env = server_env(fake)
    with running_server("--allow", "agent-databricks", env=env) as server:
        stub = service_pb2_grpc.AsyncConnectorServiceStub(server.channel)
        created = stub.CreateTask(
            connector_pb2.CreateTaskRequest(
                template=template,
                inputs=common_pb2.Inputs(literals=[n]),
                output_prefix="s3://bucket/out",
                connection=connection,
            ),
            timeout=30,
        )
        meta = bytes(created.resource_meta)
        assert set(json.loads(meta)) == {"databricks_instance", "run_id"}
        phases = []
        for _ in range(10):
            resource = stub.GetTask(
                connector_pb2.GetTaskRequest(
                    task_category=category, resource_meta=meta, connection=connection
                ),
                timeout=30,
            ).resource
            phases.append(resource.phase)
            if resource.phase not in (0, 1, 2):  # UNDEFINED, QUEUED, RUNNING
                break
        stub.DeleteTask(
            connector_pb2.DeleteTaskRequest(
                task_category=category, resource_meta=meta, connection=connection
            ),
            timeout=30,
        )
        logs = server.logs()
    assert phases[-1] == 3, phases  # SUCCEEDED
    assert 0 not in phases  # never UNDEFINED
    run_id = int(json.loads(meta)["run_id"])
    mine = [r for r in fake.state.requests if r.body and r.body.get("run_id") == run_id]
    submitted = [r for r in fake.requests_to("runs/submit") if r.authorization.endswith(task_token)]
    assert submitted and submitted[-1].body["spark_python_task"]["parameters"][0] == "a0"
    polled = [r for r in fake.requests_to("runs/get") if r.authorization.endswith(task_token)]
    assert len(polled) == len(phases)
    assert all(r.authorization == f"Bearer {task_token}" for r in mine)
    assert not any(r.authorization == f"Bearer {TOKEN}" for r in polled)
    assert task_token.encode() not in meta and task_token not in logs


def test_failed_run_over_v2_is_failed_with_the_state_message(
    server: RunningServer, fake: FakeDatabricks
) -> None:
    built = template("databricks", spark_custom(new_cluster_conf("v2-fail"), fake.netloc))
    result = run_on_server(server, built, protocol="v2")
    assert result.phase_name == "FAILED"
    assert "ZeroDivisionError" in result.message
