"""agent-snowflake against flytekit 1.16.31's Snowflake plugin (and flyte-sdk 2.12.1's, when the
compat session has it): templates ``SnowflakeTask`` serializes run unchanged, and the
``resource_meta`` both sides write is read by the other, with flytekit's own connector polling
agenthost's handle against the same fakesnow."""

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


def connect(fakesnow: Any, **overrides: Any) -> Any:
    """A connector session on the fake, as a Snowflake user outside agenthost would open one."""
    import snowflake.connector

    params = {**CONFIG, "password": "x", **fakesnow.env, **overrides}
    params["host"], params["port"], params["protocol"] = (
        params.pop("SNOWFLAKE_HOST"),
        int(params.pop("SNOWFLAKE_PORT")),
        params.pop("SNOWFLAKE_PROTOCOL"),
    )
    return snowflake.connector.connect(**params)


def rows_of(fakesnow: Any, query_id: str) -> list[tuple[Any, ...]]:
    connection = connect(fakesnow)
    try:
        cursor = connection.cursor()
        cursor.get_results_from_sfqid(query_id)
        return list(cursor.fetchall())
    finally:
        connection.close()


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
    assert rows_of(fakesnow, query_id) == [(42,)]
    assert [link.name for link in resource.log_links] == ["Snowflake Query Details"]


def test_flytekit_snowflake_meta_is_polled_and_deleted(
    server: RunningServer, fakesnow: Any
) -> None:
    """A query flytekit's connector submitted (``execute_async``) and the handle it stored."""
    connection = connect(fakesnow)
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
    server: RunningServer, fakesnow: Any, snowflake_key_pem: str, monkeypatch: pytest.MonkeyPatch
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
    monkeypatch.setenv("_FSEC_SNOWFLAKE_PRIVATE_KEY", snowflake_key_pem)
    resource = asyncio.run(fk_connector.SnowflakeConnector().get(decoded))
    assert resource.phase == Phase.SUCCEEDED


def test_flyte_sdk_snowflake_task_runs_unchanged(server: RunningServer, fakesnow: Any) -> None:
    """flyte-sdk 2.12.1's ``Snowflake`` task, serialized by flyte-sdk itself (skipped unless the
    compat session installs flyte and flyteplugins-snowflake)."""
    pytest.importorskip("flyteplugins.snowflake")
    from flyte._internal.runtime.task_serde import get_proto_task
    from flyte.io import DataFrame
    from flyte.models import SerializationContext
    from flyteidl.core.tasks_pb2 import TaskTemplate
    from flyteplugins.snowflake import Snowflake
    from flyteplugins.snowflake import SnowflakeConfig as Flyte2Config
    from google.protobuf import json_format

    from agenthost.testing import make_inputs

    task = Snowflake(
        name="compat_snowflake_select",
        query_template="SELECT %(id)s * 2 AS doubled",
        plugin_config=Flyte2Config(**CONFIG),
        inputs={"id": int},
        output_dataframe_type=DataFrame,
        snowflake_private_key="snowflake-pk",
    )
    context = SerializationContext(version="v1", project="flytesnacks", domain="development")
    raw = json_format.MessageToDict(get_proto_task(task, context), preserving_proto_field_name=True)
    for side in ("inputs", "outputs"):  # flyteidl2 lists variables; flyteidl v1 maps them
        entries = raw["interface"][side]["variables"]
        raw["interface"][side]["variables"] = {e["key"]: e["value"] for e in entries}
    template = json_format.ParseDict(raw, TaskTemplate(), ignore_unknown_fields=True)
    meta = propeller.create(server.async_stub, template, make_inputs(template, {"id": 21}))
    resource, _ = propeller.poll(server.async_stub, propeller.category_of(template), meta)
    assert resource.phase == Phase.SUCCEEDED, resource.message
    assert rows_of(fakesnow, json.loads(meta)["query_id"]) == [(42,)]
