"""Flyte 2: the ``snowflake`` agent over the flyteidl2 connector services of the same
``agenthost serve``, as the Flyte 2 executor calls them, with the key pair in the task's
``connection`` (the only key Snowflake accepts for the user) against fakesnow."""

from __future__ import annotations

import json
import uuid

import grpc
import pytest
from flyteidl2.connector import connector_pb2, service_pb2_grpc
from flyteidl2.core import execution_pb2, literals_pb2, security_pb2, tasks_pb2
from flyteidl2.task import common_pb2
from snowflake_fake import FakeSnowflake, make_key_pair
from test_snowflake_server import template

from agenthost.literals import StructuredDataset
from agenthost.testing import RunningServer, make_inputs, run_on_server

CATEGORY = connector_pb2.TaskCategory(name="snowflake", version=0)


def create_request(user: str, key_pem: str, value: int) -> connector_pb2.CreateTaskRequest:
    """CreateTask as the executor sends it: the template, inputs as named literals, and the
    task's connection with the key pair's value."""
    v1 = template(user=user)
    literals = make_inputs(v1, {"id": value})
    return connector_pb2.CreateTaskRequest(
        template=tasks_pb2.TaskTemplate.FromString(v1.SerializeToString()),
        inputs=common_pb2.Inputs(
            literals=[
                common_pb2.NamedLiteral(
                    name="id",
                    value=literals_pb2.Literal.FromString(
                        literals.literals["id"].SerializeToString()
                    ),
                )
            ]
        ),
        output_prefix="s3://bucket/r1/a1/0",
        connection=security_pb2.Connection(secrets={"snowflake_private_key": key_pem}),
    )


def test_a_task_runs_over_v2_with_the_hosts_key(server: RunningServer) -> None:
    result = run_on_server(server, template(), {"id": 41}, protocol="v2")
    assert result.phase_name == "SUCCEEDED", result.message
    assert isinstance(result.outputs["results"], StructuredDataset)
    assert result.outputs["results"].uri.startswith("snowflake://flyte:myorg-myaccount/WH/DB/")


def test_the_connections_key_pair_runs_the_task_over_v2(
    server: RunningServer, fakesnow: FakeSnowflake
) -> None:
    user = f"flyte2_{uuid.uuid4().hex[:8]}"
    tenant = make_key_pair()
    fakesnow.register_key(user, tenant.fingerprint)  # the host's key is refused for this user
    stub = service_pb2_grpc.AsyncConnectorServiceStub(server.channel)
    request = create_request(user, tenant.private_pem, 41)
    created = stub.CreateTask(request, timeout=30)
    poll = connector_pb2.GetTaskRequest(
        task_category=CATEGORY,
        resource_meta=created.resource_meta,
        output_prefix=request.output_prefix,
        connection=request.connection,
    )
    resource = stub.GetTask(poll, timeout=30).resource
    assert resource.phase == execution_pb2.TaskExecution.SUCCEEDED, resource.message
    assert fakesnow.rows_of(json.loads(created.resource_meta)["query_id"]) == [(42,)]
    stub.DeleteTask(
        connector_pb2.DeleteTaskRequest(
            task_category=CATEGORY,
            resource_meta=created.resource_meta,
            connection=request.connection,
        ),
        timeout=30,
    )
    assert fakesnow.logins(user) == 1
    assert "PRIVATE KEY" not in created.resource_meta.decode()
    assert "PRIVATE KEY" not in server.logs()


def test_without_the_key_in_the_connection_the_login_is_refused(
    server: RunningServer, fakesnow: FakeSnowflake
) -> None:
    user = f"flyte2_{uuid.uuid4().hex[:8]}"
    fakesnow.register_key(user, make_key_pair().fingerprint)
    request = create_request(user, make_key_pair().private_pem, 1)  # another key
    stub = service_pb2_grpc.AsyncConnectorServiceStub(server.channel)
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreateTask(request, timeout=30)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "PRIVATE KEY" not in (caught.value.details() or "")
