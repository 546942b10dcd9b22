"""agent-snowflake against flytekit 1.16.31's Snowflake plugin and flyte-sdk 2.12.1's: templates ``SnowflakeTask`` serializes run unchanged, and the
``resource_meta`` both sides write is read by the other, with flytekit's own connector polling
agenthost's handle against the same fakesnow; flyte-sdk 2.12.1's template (the committed
fixture) runs over v1, and over v2 with the key pair in the task's connection."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import flytekit_side as fk
import propeller
import pytest
from flytekit import StructuredDataset, kwtypes
from flytekitplugins.snowflake import SnowflakeConfig, SnowflakeTask
from flytekitplugins.snowflake.connector import SnowflakeJobMetadata
from google.protobuf import json_format

from agenthost import Phase
from agenthost.testing import RunningServer

CONFIG = {
    "user": "flyte",
    "account": "myorg-myaccount",
    "database": "DB",
    "schema": "PUBLIC",
    "warehouse": "WH",
}


def snowflake_task() -> SnowflakeTask:
    """A flytekit ``SnowflakeTask`` with a typed input and the ``results`` output."""
    return SnowflakeTask(
        name="compat.snowflake.select",
        query_template="SELECT %(id)s + 1 AS next_id",
        task_config=SnowflakeConfig(**CONFIG),
        inputs=kwtypes(id=int),
        output_schema_type=StructuredDataset,
    )


def test_flytekit_snowflake_task_runs_unchanged(server: RunningServer, fakesnow: Any) -> None:
    task = snowflake_task()
    template = fk.serialize(task)
    assert template.type == "snowflake"
    meta = propeller.create(server.async_stub, template, fk.inputs(task, {"id": 41}))
    resource, _ = propeller.poll(server.async_stub, propeller.category_of(template), meta)
    assert resource.phase == Phase.SUCCEEDED, resource.message
    query_id = json.loads(meta)["query_id"]
    results = fk.outputs(resource.outputs, task)["results"]
    assert results.literal.uri == f"snowflake://flyte:myorg-myaccount/WH/DB/PUBLIC/{query_id}"
    assert fakesnow.rows_of(query_id) == [(42,)]
    assert [link.name for link in resource.log_links] == ["Snowflake Query Details"]


def test_flytekit_snowflake_meta_is_polled_and_deleted(
    server: RunningServer, fakesnow: Any
) -> None:
    """A query flytekit's connector submitted (``execute_async``) and the handle it stored."""
    connection = fakesnow.connect(**CONFIG, password="x")
    try:
        cursor = connection.cursor()
        cursor.execute_async("SELECT 7 AS seven")
        query_id = cursor.sfqid
    finally:
        connection.close()
    meta = SnowflakeJobMetadata(**CONFIG, query_id=query_id, has_output=True).encode()
    category = propeller.category_of(fk.serialize(snowflake_task()))
    resource, _ = propeller.poll(server.async_stub, category, meta)
    assert resource.phase == Phase.SUCCEEDED, resource.message
    propeller.delete(server.async_stub, category, meta)
    propeller.delete(server.async_stub, category, meta)


def test_flytekits_connector_polls_agenthosts_meta(
    server: RunningServer, fakesnow: Any, key_pair: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rolling back is safe: flytekit decodes agenthost's handle and its connector polls it."""
    import snowflake.connector
    from flytekitplugins.snowflake import connector as fk_connector

    task = snowflake_task()
    meta = propeller.create(server.async_stub, fk.serialize(task), fk.inputs(task, {"id": 1}))
    decoded = SnowflakeJobMetadata.decode(meta)
    assert decoded.query_id == json.loads(meta)["query_id"] and decoded.has_output is True

    # flytekit's connector always connects to <account>.snowflakecomputing.com: point it at the
    # fake the way a DNS override would, and give it the deployment's key as its secret.
    real_connect = snowflake.connector.connect
    endpoint = {"host": fakesnow.host, "port": fakesnow.port, "protocol": "http"}
    monkeypatch.setattr(fk_connector.sc, "connect", lambda **kw: real_connect(**kw, **endpoint))
    monkeypatch.setenv("_FSEC_SNOWFLAKE_PRIVATE_KEY", key_pair.private_pem)
    resource = asyncio.run(fk_connector.SnowflakeConnector().get(decoded))
    assert resource.phase == Phase.SUCCEEDED


def test_flyte_sdk_snowflake_template_runs_unchanged_over_v1(
    server: RunningServer, fakesnow: Any
) -> None:
    """flyte-sdk 2.12.1's ``Snowflake`` template (the committed fixture, which the compat
    session checks against flyte-sdk itself), settings in ``custom``, over the v1 services."""
    import executor2
    from flyteidl.core.tasks_pb2 import TaskTemplate

    from agenthost.testing import make_inputs

    fakesnow.create_sample_table()
    template = executor2.fixture("snowflake_task_template", TaskTemplate)
    assert json_format.MessageToDict(template.custom)["secrets"] == {
        "snowflake_private_key": "SNOWFLAKE_PK"
    }
    meta = propeller.create(server.async_stub, template, make_inputs(template, {"id": 2}))
    resource, _ = propeller.poll(server.async_stub, propeller.category_of(template), meta)
    assert resource.phase == Phase.SUCCEEDED, resource.message
    assert fakesnow.rows_of(json.loads(meta)["query_id"]) == [(2, "two")]


def test_flyte_sdk_snowflake_task_over_v2_with_the_connections_key(
    server: RunningServer, fakesnow: Any
) -> None:
    """The Flyte 2 executor's CreateTask/GetTask for that template, the key pair in the
    task's ``connection`` (the only key Snowflake accepts for this user), over v2."""
    import executor2
    import grpc
    from flyteidl2.connector import connector_pb2
    from flyteidl2.core import tasks_pb2
    from snowflake_fake import make_key_pair

    fakesnow.create_sample_table()
    user = "flyte2_tenant"
    tenant = make_key_pair()
    fakesnow.register_key(user, tenant.fingerprint)
    template = executor2.fixture("snowflake_task_template", tasks_pb2.TaskTemplate)
    template.custom["user"] = user
    request = executor2.fixture("bigquery_create_task_request", connector_pb2.CreateTaskRequest)
    request.template.CopyFrom(template)
    (literal,) = request.inputs.literals
    literal.name = "id"
    literal.value.scalar.primitive.integer = 1
    request.connection.secrets.clear()
    request.connection.secrets["snowflake_private_key"] = tenant.private_pem
    stub = executor2.async_stub(server.channel)
    try:
        created = stub.CreateTask(request, timeout=executor2.CALL_TIMEOUT)
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
            pytest.skip("this agenthost does not serve flyteidl2's AsyncConnectorService yet")
        raise
    category = executor2.category_of(template)
    resource, _ = executor2.poll(stub, category, created.resource_meta, request.connection)
    assert resource.phase == Phase.SUCCEEDED, resource.message
    assert fakesnow.rows_of(json.loads(created.resource_meta)["query_id"]) == [(1, "one")]
    assert fakesnow.logins(user) == 1
    assert "PRIVATE KEY" not in created.resource_meta.decode()
    assert "PRIVATE KEY" not in server.logs()
