"""End to end: ``agenthost serve`` (a subprocess, this plugin loaded through its entry point)
with the real BigQuery client talking to the bqemulator emulator, driven over gRPC with
flyteidl's stubs."""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from bq_data import flytekit_resource_meta, load_template
from bq_emulator import RunningEmulator
from flyteidl.admin import agent_pb2
from flyteidl.core.execution_pb2 import TaskExecution
from flyteidl.core.identifier_pb2 import (
    Identifier,
    NodeExecutionIdentifier,
    TaskExecutionIdentifier,
    WorkflowExecutionIdentifier,
)
from flyteidl.core.literals_pb2 import LiteralMap
from flyteidl.core.tasks_pb2 import TaskTemplate

from agenthost.literals import StructuredDataset, literal_map_to_python
from agenthost.testing import RunningServer, make_inputs, make_template, running_server

TASK_TYPE = "bigquery_query_job_task"
CATEGORY = agent_pb2.TaskCategory(name=TASK_TYPE, version=0)
SCALAR_SQL = (
    "SELECT @limit + 1 AS next_limit, @ratio * 2 AS doubled, "
    "CONCAT(@label, '!') AS shout, NOT @enabled AS flipped"
)


@pytest.fixture(scope="module")
def server(bigquery_emulator: RunningEmulator) -> Iterator[RunningServer]:
    env = {"BIGQUERY_EMULATOR_HOST": bigquery_emulator.endpoint}
    with running_server("--allow", "bigquery", env=env) as running:
        yield running


def create(
    server: RunningServer,
    template: TaskTemplate,
    inputs: LiteralMap | None = None,
    metadata: agent_pb2.TaskExecutionMetadata | None = None,
) -> bytes:
    request = agent_pb2.CreateTaskRequest(template=template, output_prefix="s3://bucket/out")
    if inputs is not None:
        request.inputs.CopyFrom(inputs)
    if metadata is not None:
        request.task_execution_metadata.CopyFrom(metadata)
    response = server.async_stub.CreateTask(request, timeout=60)
    return bytes(response.resource_meta)


def get(server: RunningServer, resource_meta: bytes) -> agent_pb2.Resource:
    request = agent_pb2.GetTaskRequest(resource_meta=resource_meta, task_category=CATEGORY)
    return server.async_stub.GetTask(request, timeout=60).resource


def delete(server: RunningServer, resource_meta: bytes) -> None:
    request = agent_pb2.DeleteTaskRequest(resource_meta=resource_meta, task_category=CATEGORY)
    server.async_stub.DeleteTask(request, timeout=60)


def scalar_template(custom: dict[str, Any]) -> TaskTemplate:
    return make_template(
        TASK_TYPE,
        inputs={"limit": int, "ratio": float, "label": str, "enabled": bool},
        outputs={"results": StructuredDataset},
        custom=custom,
        sql=SCALAR_SQL,
    )


SCALAR_VALUES = {"limit": 41, "ratio": 1.25, "label": "hi", "enabled": True}
EXPECTED_ROW = {"next_limit": 42, "doubled": 2.5, "shout": "hi!", "flipped": False}


def test_the_agent_is_served(server: RunningServer) -> None:
    agents = server.metadata_stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=10).agents
    categories = {(c.name, c.version) for a in agents for c in a.supported_task_categories}
    assert (TASK_TYPE, 0) in categories


def test_parameterized_query_succeeds_with_its_destination_table(
    server: RunningServer, bq_client: Any
) -> None:
    template = scalar_template(
        {
            "ProjectID": "test-project",
            "Location": "US",
            "Domain": "development",
            "useQueryCache": False,
            "maximumBytesBilled": "1000000000",
        }
    )
    resource_meta = create(server, template, make_inputs(template, SCALAR_VALUES))
    meta = json.loads(resource_meta)
    assert set(meta) == {"job_id", "project", "location"}
    assert (meta["project"], meta["location"]) == ("test-project", "US")

    resource = get(server, resource_meta)

    assert resource.phase == TaskExecution.SUCCEEDED, resource.message
    job = bq_client.get_job(meta["job_id"], location="US")
    table = job.destination
    outputs = literal_map_to_python(resource.outputs, template.interface.outputs)
    assert outputs["results"].uri == f"bq://{table.project}:{table.dataset_id}.{table.table_id}"
    assert [dict(row) for row in job.result()] == [EXPECTED_ROW]
    [link] = resource.log_links
    assert link.name == "BigQuery Console"
    assert f"j=bq:US:{meta['job_id']}" in link.uri
    assert "project=test-project" in link.uri


def test_bad_sql_fails_with_bigquerys_message(server: RunningServer) -> None:
    template = make_template(
        TASK_TYPE, custom={"ProjectID": "test-project", "Location": "US"}, sql="SELEC 1 FROM"
    )
    resource_meta = create(server, template)

    resource = get(server, resource_meta)

    assert resource.phase == TaskExecution.FAILED
    assert "invalidQuery" in resource.message
    assert "syntax error" in resource.message.lower()
    assert "\x1b" not in resource.message
    assert resource.agent_error.kind == agent_pb2.AgentError.NON_RECOVERABLE
    assert len(resource.log_links) == 1


def test_delete_after_completion_and_of_unknown_jobs_succeeds(server: RunningServer) -> None:
    template = make_template(
        TASK_TYPE, custom={"ProjectID": "test-project", "Location": "US"}, sql="SELECT 1 AS one"
    )
    resource_meta = create(server, template)
    assert get(server, resource_meta).phase == TaskExecution.SUCCEEDED

    delete(server, resource_meta)
    delete(server, resource_meta)
    unknown = json.dumps({"job_id": "no-such-job", "project": "test-project", "location": "US"})
    delete(server, unknown.encode())


def test_unknown_job_is_failed(server: RunningServer) -> None:
    unknown = json.dumps({"job_id": "no-such-job", "project": "test-project", "location": "US"})
    resource = get(server, unknown.encode())
    assert resource.phase == TaskExecution.FAILED
    assert "not found" in resource.message


def test_flytekit_template_runs(server: RunningServer) -> None:
    template = load_template("scalars")
    resource_meta = create(server, template, make_inputs(template, SCALAR_VALUES))

    resource = get(server, resource_meta)

    assert resource.phase == TaskExecution.SUCCEEDED, resource.message
    uri = resource.outputs.literals["results"].scalar.structured_dataset.uri
    assert uri.startswith("bq://test-project:")


def test_flytekit_template_with_datetime_and_array_inputs(
    server: RunningServer, bq_client: Any
) -> None:
    template = load_template("other_types")
    when = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)
    resource_meta = create(server, template, make_inputs(template, {"when": when, "ids": [4, 5]}))

    resource = get(server, resource_meta)

    assert resource.phase == TaskExecution.SUCCEEDED, resource.message
    job = bq_client.get_job(json.loads(resource_meta)["job_id"], location="EU")
    assert [tuple(row.values()) for row in job.result()] == [(when.replace(tzinfo=None), 2)]


def test_flytekit_resource_meta_is_accepted(server: RunningServer) -> None:
    template = make_template(
        TASK_TYPE, custom={"ProjectID": "test-project", "Location": "US"}, sql="SELECT 2 AS two"
    )
    job_id = json.loads(create(server, template))["job_id"]
    flytekit_bytes = flytekit_resource_meta(job_id=job_id)
    assert b'", "' in flytekit_bytes  # flytekit's spacing, not ours

    assert get(server, flytekit_bytes).phase == TaskExecution.SUCCEEDED
    delete(server, flytekit_bytes)


def test_create_for_the_same_task_execution_reuses_the_job_id(server: RunningServer) -> None:
    template = make_template(
        TASK_TYPE, custom={"ProjectID": "test-project", "Location": "US"}, sql="SELECT 3 AS x"
    )
    execution = WorkflowExecutionIdentifier(project="p", domain="d", name=uuid.uuid4().hex[:20])
    attempt = TaskExecutionIdentifier(
        task_id=Identifier(project="p", domain="d", name="t", version="v"),
        node_execution_id=NodeExecutionIdentifier(node_id="n0", execution_id=execution),
        retry_attempt=0,
    )
    metadata = agent_pb2.TaskExecutionMetadata(task_execution_id=attempt)
    first = json.loads(create(server, template, metadata=metadata))
    second = json.loads(create(server, template, metadata=metadata))
    metadata.task_execution_id.retry_attempt = 1
    retry = json.loads(create(server, template, metadata=metadata))

    assert first["job_id"] == second["job_id"]
    assert retry["job_id"] != first["job_id"]


def test_inputs_bigquery_cannot_take_are_invalid_arguments(server: RunningServer) -> None:
    template = make_template(
        TASK_TYPE,
        inputs={"mapping": dict[str, int]},
        custom={"ProjectID": "test-project"},
        sql="SELECT @mapping",
    )
    with pytest.raises(grpc.RpcError) as raised:
        create(server, template, make_inputs(template, {"mapping": {"a": 1}}))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'mapping'" in raised.value.details()
    assert "Traceback" not in raised.value.details()


def test_missing_project_is_an_invalid_argument(server: RunningServer) -> None:
    template = make_template(TASK_TYPE, custom={"Location": "US"}, sql="SELECT 1")
    with pytest.raises(grpc.RpcError) as raised:
        create(server, template)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "ProjectID" in raised.value.details()
