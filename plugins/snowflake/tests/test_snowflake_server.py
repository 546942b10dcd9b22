"""End to end: ``agenthost serve`` (a subprocess, this plugin loaded through its entry point)
with the real ``snowflake-connector-python`` talking to fakesnow, driven over gRPC with
flyteidl's stubs."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import grpc
import pytest
from flyteidl.admin import agent_pb2
from flyteidl.core.execution_pb2 import TaskExecution
from flyteidl.core.literals_pb2 import LiteralMap
from flyteidl.core.tasks_pb2 import TaskTemplate
from snowflake_fake import FakeSnowflake, KeyPairFiles, make_key_pair

from agenthost.literals import StructuredDataset, literal_map_to_python
from agenthost.testing import (
    RunningServer,
    make_inputs,
    make_template,
    running_server,
    unreachable_endpoint,
)

TASK_TYPE = "snowflake"
CATEGORY = agent_pb2.TaskCategory(name=TASK_TYPE, version=0)
CUSTOM = {
    "account": "myorg-myaccount",
    "user": "flyte",
    "database": "DB",
    "schema": "PUBLIC",
    "warehouse": "WH",
}
SUCCEEDED, RUNNING, FAILED = TaskExecution.SUCCEEDED, TaskExecution.RUNNING, TaskExecution.FAILED


def template(sql: str = "SELECT %(id)s + 1 AS next_id", **config: Any) -> TaskTemplate:
    """A template shaped as flytekit's ``SnowflakeTask`` writes it (settings in ``config``)."""
    task = make_template(
        TASK_TYPE, inputs={"id": int}, outputs={"results": StructuredDataset}, sql=sql
    )
    task.config.update({**CUSTOM, **config})
    return task


def create(server: RunningServer, task: TaskTemplate, inputs: LiteralMap | None = None) -> bytes:
    request = agent_pb2.CreateTaskRequest(template=task, output_prefix="s3://bucket/out")
    request.inputs.CopyFrom(inputs if inputs is not None else make_inputs(task, {"id": 41}))
    return bytes(server.async_stub.CreateTask(request, timeout=30).resource_meta)


def get(server: RunningServer, meta: bytes) -> agent_pb2.Resource:
    request = agent_pb2.GetTaskRequest(resource_meta=meta, task_category=CATEGORY)
    return server.async_stub.GetTask(request, timeout=30).resource


def delete(server: RunningServer, meta: bytes) -> None:
    request = agent_pb2.DeleteTaskRequest(resource_meta=meta, task_category=CATEGORY)
    server.async_stub.DeleteTask(request, timeout=30)


def query_id(meta: bytes) -> str:
    return str(json.loads(meta)["query_id"])


def test_query_runs_with_its_input_bound_and_reports_its_result(
    server: RunningServer, fakesnow: FakeSnowflake
) -> None:
    task = template()
    meta = create(server, task)
    handle = json.loads(meta)
    assert set(handle) == {
        "user", "account", "database", "schema", "warehouse", "query_id", "has_output"
    }  # fmt: skip
    assert handle["has_output"] is True and handle["account"] == "myorg-myaccount"
    resource = get(server, meta)
    assert resource.phase == SUCCEEDED, resource.message
    outputs = literal_map_to_python(resource.outputs, task.interface.outputs)
    qid = handle["query_id"]
    assert outputs["results"].uri == f"snowflake://flyte:myorg-myaccount/WH/DB/PUBLIC/{qid}"
    assert fakesnow.rows_of(qid) == [(42,)]
    (link,) = resource.log_links
    assert link.uri == (
        f"https://app.snowflake.com/myorg/myaccount/#/compute/history/queries/{qid}/detail"
    )


def test_polls_reuse_one_connection(server: RunningServer, fakesnow: FakeSnowflake) -> None:
    user = f"reuse_{uuid.uuid4().hex[:8]}"
    meta = create(server, template(user=user))
    for _ in range(5):
        assert get(server, meta).phase == SUCCEEDED
    delete(server, meta)
    assert fakesnow.logins(user) == 1


def test_running_query_then_success(server: RunningServer, fakesnow: FakeSnowflake) -> None:
    meta = create(server, template())
    fakesnow.script(query_id(meta), "QUEUED", "RUNNING", "SUCCESS")
    phases = [get(server, meta) for _ in range(3)]
    assert [r.phase for r in phases] == [RUNNING, RUNNING, SUCCEEDED]
    assert [r.message for r in phases[:2]] == ["QUEUED", "RUNNING"]


def test_failed_query_is_a_failed_phase_with_snowflakes_message(
    server: RunningServer, fakesnow: FakeSnowflake
) -> None:
    meta = create(server, template())
    message = "Numeric value 'abc' is not recognized"
    fakesnow.script(query_id(meta), "RUNNING", "FAILED_WITH_ERROR", code="100038", message=message)
    assert get(server, meta).phase == RUNNING
    resource = get(server, meta)
    assert resource.phase == FAILED
    assert message in resource.message and "100038" in resource.message
    assert resource.log_links[0].name == "Snowflake Query Details"


def test_a_query_snowflake_reports_disconnected_is_running_until_it_fails(
    server: RunningServer, fakesnow: FakeSnowflake
) -> None:
    # Snowflake's DISCONNECTED is the query's own status ("the session's connection is broken;
    # the query's state will change to FAILED_WITH_ERROR soon"), not the agent's connection.
    user = f"disconnected_{uuid.uuid4().hex[:8]}"
    meta = create(server, template(user=user))
    message = "Session no longer exists"
    fakesnow.script(query_id(meta), "DISCONNECTED", "FAILED_WITH_ERROR", message=message)
    resource = get(server, meta)
    assert resource.phase == RUNNING and "DISCONNECTED" in resource.message
    resource = get(server, meta)
    assert resource.phase == FAILED and message in resource.message
    assert fakesnow.logins(user) == 1


def test_cancel_binds_the_query_id_and_is_idempotent(
    server: RunningServer, fakesnow: FakeSnowflake
) -> None:
    meta = create(server, template())
    qid = query_id(meta)
    fakesnow.script(qid, "RUNNING")
    before = len(fakesnow.state()["cancels"])
    delete(server, meta)
    resource = get(server, meta)
    assert resource.phase == FAILED and "ABORTED" in resource.message
    delete(server, meta)  # already aborted: not an error
    cancels = fakesnow.state()["cancels"][before:]
    assert len(cancels) == 2
    for cancel in cancels:
        assert cancel["sqlText"] == "SELECT SYSTEM$CANCEL_QUERY(?)"
        assert cancel["bindings"] == {"1": {"type": "TEXT", "value": qid}}


def test_a_query_id_that_is_not_one_is_refused_before_reaching_snowflake(
    server: RunningServer, fakesnow: FakeSnowflake
) -> None:
    meta = json.loads(create(server, template()))
    meta["query_id"] = "x'); DROP TABLE t; --"
    before = fakesnow.state()
    with pytest.raises(grpc.RpcError) as caught:
        delete(server, json.dumps(meta).encode())
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "query_id" in (caught.value.details() or "")
    after = fakesnow.state()
    assert after["cancels"] == before["cancels"]


def test_polls_a_query_flytekit_submitted(server: RunningServer) -> None:
    meta = create(server, template())
    qid = query_id(meta)
    # flytekit's SnowflakeJobMetadata, encoded as its connector does (json.dumps(asdict(...)))
    flytekit_meta = json.dumps(
        {"user": "flyte", "account": "myorg-myaccount", "database": "DB", "schema": "PUBLIC",
         "warehouse": "WH", "query_id": qid, "has_output": False}
    ).encode()  # fmt: skip
    resource = get(server, flytekit_meta)
    assert resource.phase == SUCCEEDED and not resource.outputs.literals


def test_polls_a_query_flyte_sdk_submitted(server: RunningServer) -> None:
    qid = query_id(create(server, template()))
    # flyte-sdk 2's SnowflakeJobMetadata adds connection_kwargs
    flyte_sdk_meta = json.dumps(
        {"account": "myorg-myaccount", "user": "flyte", "database": "DB", "schema": "PUBLIC",
         "warehouse": "WH", "query_id": qid, "has_output": True, "connection_kwargs": {}}
    ).encode()  # fmt: skip
    assert get(server, flyte_sdk_meta).phase == SUCCEEDED


def test_sql_snowflake_rejects_is_invalid_argument(server: RunningServer) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        create(server, template(sql="SELECT * FROM no_such_table WHERE id = %(id)s"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = caught.value.details() or ""
    assert "Snowflake rejected the query" in details and "NO_SUCH_TABLE" in details.upper()


def test_a_database_snowflake_refuses_is_invalid_argument(
    server: RunningServer, fakesnow: FakeSnowflake
) -> None:
    fakesnow.refuse_database("NO_SUCH_DB")
    with pytest.raises(grpc.RpcError) as caught:
        create(server, template(database="NO_SUCH_DB"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "390201" in (caught.value.details() or "")


def test_a_forged_account_in_a_handle_is_refused(server: RunningServer) -> None:
    meta = json.loads(create(server, template()))
    meta["account"] = "attacker.example/x?"
    with pytest.raises(grpc.RpcError) as caught:
        get(server, json.dumps(meta).encode())
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'account'" in (caught.value.details() or "")


@pytest.mark.parametrize("field", ["account", "user", "database", "warehouse"])
def test_missing_template_field_is_invalid_argument_naming_it(
    server: RunningServer, field: str
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        create(server, template(**{field: ""}))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"config.{field}" in (caught.value.details() or "")


def test_a_key_snowflake_refuses_is_reported_without_the_key(
    server: RunningServer, fakesnow: FakeSnowflake, key_pair: KeyPairFiles
) -> None:
    user = f"locked_{uuid.uuid4().hex[:8]}"
    fakesnow.register_key(user, make_key_pair().fingerprint)  # not the deployment's key
    with pytest.raises(grpc.RpcError) as caught:
        create(server, template(user=user))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    details = caught.value.details() or ""
    assert "refused the agent's credentials" in details and "390144" in details
    assert "PRIVATE KEY" not in details and "PRIVATE KEY" not in server.logs()
    assert server.process.poll() is None


def test_connections_are_closed_on_shutdown(
    agent_env: dict[str, str], fakesnow: FakeSnowflake
) -> None:
    user = f"shutdown_{uuid.uuid4().hex[:8]}"
    with running_server("--allow", "snowflake", env=agent_env) as own:
        assert get(own, create(own, template(user=user))).phase == SUCCEEDED
        closed_before = fakesnow.state()["closed_sessions"]
    assert fakesnow.logins(user) == 1
    assert fakesnow.state()["closed_sessions"] == closed_before + 1


def test_unreachable_snowflake_is_unavailable_within_30_seconds(
    agent_env: dict[str, str],
) -> None:
    """A black-holed endpoint (connections hang until the client gives up), default timeouts."""
    with unreachable_endpoint() as address:
        host, port = address.rsplit(":", 1)
        env = {**agent_env, "SNOWFLAKE_HOST": host, "SNOWFLAKE_PORT": port}
        with running_server("--allow", "snowflake", env=env) as own:
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as caught:
                create(own, template())
            elapsed = time.monotonic() - started
    assert elapsed < 30, elapsed
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "Snowflake is unavailable" in (caught.value.details() or "")


def test_flyte_sdk_template_runs_unchanged(server: RunningServer, fakesnow: FakeSnowflake) -> None:
    from test_snowflake_units import flyte_sdk_template

    fakesnow.create_sample_table()
    task = flyte_sdk_template()
    meta = create(server, task, make_inputs(task, {"id": 2}))
    resource = get(server, meta)
    assert resource.phase == SUCCEEDED, resource.message
    assert fakesnow.rows_of(query_id(meta)) == [(2, "two")]
