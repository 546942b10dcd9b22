"""flyte-sdk 2 compatibility: its BigQuery templates run unchanged over v2 against bqemulator
through the real server, and the ``resource_meta`` its BigQuery connector wrote is accepted by
GetTask and DeleteTask over both protocols.

The fixtures in ``flyte2_fixtures/`` were serialized by flyte-sdk 2.12.1; the ``compat`` nox
session regenerates them with flyte-sdk itself in a venv of its own
(``AGENTHOST_FLYTE2_FIXTURES``) and the first test checks the committed copies against them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import executor2
import propeller
import pytest
from flyteidl.admin import agent_pb2
from flyteidl2.connector import connector_pb2
from flyteidl2.core import security_pb2, tasks_pb2
from google.protobuf import json_format

from agenthost import Phase
from agenthost.testing import RunningServer

GENERATED = os.environ.get("AGENTHOST_FLYTE2_FIXTURES")


@pytest.mark.skipif(not GENERATED, reason="the compat nox session generates them with flyte-sdk")
def test_committed_fixtures_are_what_flyte_sdk_serializes_today() -> None:
    assert GENERATED is not None
    generated = sorted(p.name for p in Path(GENERATED).iterdir())
    committed = sorted(p.name for p in executor2.FIXTURES.iterdir() if p.suffix in (".pb", ".json"))
    assert generated == committed
    for name in generated:
        assert (Path(GENERATED) / name).read_bytes() == (executor2.FIXTURES / name).read_bytes(), (
            f"{name} changed: copy {GENERATED}/* to tests/compat/flyte2_fixtures/"
        )


def test_the_template_is_flyte_sdks_shape() -> None:
    template = executor2.fixture("bigquery_task_template", tasks_pb2.TaskTemplate)
    custom = json_format.MessageToDict(template.custom)
    assert set(custom) == {"ProjectID", "Location", "Domain", "secrets"}
    assert custom["secrets"] == {"google_application_credentials": "gcp-sa-json"}
    assert [v.key for v in template.interface.inputs.variables] == ["min_count"]
    (output,) = template.interface.outputs.variables
    assert output.key == "results"
    assert output.value.type.WhichOneof("type") == "structured_dataset_type"
    assert template.metadata.runtime.version == "2.12.1"


def _executor_request() -> connector_pb2.CreateTaskRequest:
    """flyte-sdk's BigQuery task as the executor sends it, with a connection secret value (the
    emulator ignores credentials; the value must not come back)."""
    request = executor2.fixture("bigquery_create_task_request", connector_pb2.CreateTaskRequest)
    request.connection.secrets["google_application_credentials"] = SECRET_JSON
    return request


SECRET_JSON = json.dumps({"type": "service_account", "private_key": "compat-secret-7f3a9c"})


def test_flyte_sdk_bigquery_template_runs_unchanged_over_v2(
    server: RunningServer, bq_client: Any
) -> None:
    stub = executor2.async_stub(server.channel)
    request = _executor_request()
    created = stub.CreateTask(request, timeout=executor2.CALL_TIMEOUT)
    category = executor2.category_of(request.template)

    resource, phases = executor2.poll(stub, category, created.resource_meta, request.connection)

    assert resource.phase == Phase.SUCCEEDED, resource.message
    assert Phase.UNDEFINED not in phases
    meta = json.loads(created.resource_meta)
    job = bq_client.get_job(meta["job_id"], location="US")
    table = job.destination
    # The output flyte-sdk's server would send for the same job (fixture shape).
    expected = executor2.fixture("bigquery_get_task_response", connector_pb2.GetTaskResponse)
    ((expected_output,),) = [expected.resource.outputs.literals]
    (output,) = resource.outputs.literals
    assert output.name == expected_output.name == "results"
    dataset = output.value.scalar.structured_dataset
    assert dataset.uri == f"bq://{table.project}:{table.dataset_id}.{table.table_id}"
    expected_metadata = expected_output.value.scalar.structured_dataset.metadata
    assert dataset.metadata == expected_metadata  # flyte-sdk: structured_dataset_type {}
    assert [tuple(row.values()) for row in job.result()] == [(42, "flyte2")]
    assert "compat-secret-7f3a9c" not in created.resource_meta.decode()
    assert "compat-secret-7f3a9c" not in str(resource)
    assert "compat-secret-7f3a9c" not in server.logs()


def _flyte_sdk_meta(bq_client: Any, sql: str) -> bytes:
    """flyte-sdk's BigQuery ``resource_meta`` (the committed fixture) for a real job, started
    as its connector starts one (the client's ``query``)."""
    from google.cloud import bigquery

    job = bq_client.query(sql, job_config=bigquery.QueryJobConfig(), location="US")
    response = executor2.fixture("bigquery_resource_meta", connector_pb2.CreateTaskResponse)
    fields = json.loads(response.resource_meta)
    assert set(fields) == {"job_id", "project", "location", "user_agent"}
    fields["job_id"] = str(job.job_id)
    return json.dumps(fields).encode()


def test_flyte_sdk_meta_is_polled_and_deleted_over_v2(
    server: RunningServer, bq_client: Any
) -> None:
    stub = executor2.async_stub(server.channel)
    template = executor2.fixture("bigquery_task_template", tasks_pb2.TaskTemplate)
    category = executor2.category_of(template)
    meta = _flyte_sdk_meta(bq_client, "SELECT 7 AS seven")
    empty = security_pb2.Connection()

    resource, _ = executor2.poll(stub, category, meta, empty)

    assert resource.phase == Phase.SUCCEEDED, resource.message
    assert resource.outputs.literals[0].value.scalar.structured_dataset.uri.startswith("bq://")
    executor2.delete(stub, category, meta, empty)
    executor2.delete(stub, category, meta, empty)


def test_flyte_sdk_meta_is_polled_and_deleted_over_v1(
    server: RunningServer, bq_client: Any
) -> None:
    category = agent_pb2.TaskCategory(name="bigquery_query_job_task", version=0)
    meta = _flyte_sdk_meta(bq_client, "SELECT 8 AS eight")

    resource, _ = propeller.poll(server.async_stub, category, meta)

    assert resource.phase == Phase.SUCCEEDED, resource.message
    propeller.delete(server.async_stub, category, meta)
    propeller.delete(server.async_stub, category, meta)
