"""Tasks in flight survive a switch from flytekit's connector server to agenthost: the
``resource_meta`` bytes propeller stored when flytekit's server created the job (made here with
flytekit's own metadata classes) are accepted by agenthost's GetTask and DeleteTask."""

from __future__ import annotations

import json
import pickle
from typing import Any

import flytekit_side as fk
import grpc
import propeller
import pytest
from flyteidl.admin import agent_pb2
from flytekitplugins.bigquery.connector import BigQueryMetadata
from flytekitplugins.openai.batch.connector import BatchEndpointMetadata
from google.protobuf import json_format

from agenthost import Phase, is_terminal_phase
from agenthost.testing import RunningServer

# -- BigQuery: flytekit writes json.dumps of {job_id, project, location} ----------------------


def _job_started_by_flytekits_server(bq_client: Any, sql: str) -> str:
    """Start a query job as flytekit's BigQuery connector does (the client's ``query``)."""
    from google.cloud import bigquery

    job = bq_client.query(sql, job_config=bigquery.QueryJobConfig(), location="US")
    return str(job.job_id)


def test_flytekit_bigquery_meta_is_polled_to_success(server: RunningServer, bq_client: Any) -> None:
    task = fk.bigquery_plain_task()
    template = fk.serialize(task)
    job_id = _job_started_by_flytekits_server(bq_client, "SELECT 5 AS five")
    meta = BigQueryMetadata(job_id=job_id, project=fk.BQ_PROJECT, location="US").encode()
    assert json.loads(meta) == {"job_id": job_id, "project": fk.BQ_PROJECT, "location": "US"}

    resource, _ = propeller.poll(server.async_stub, propeller.category_of(template), meta)

    assert resource.phase == Phase.SUCCEEDED, resource.message
    results = fk.outputs(resource.outputs, task)["results"]
    table = bq_client.get_job(job_id, location="US").destination
    assert results.literal.uri == f"bq://{table.project}:{table.dataset_id}.{table.table_id}"


def test_flytekit_bigquery_meta_can_be_deleted_twice(server: RunningServer, bq_client: Any) -> None:
    category = propeller.category_of(fk.serialize(fk.bigquery_plain_task()))
    job_id = _job_started_by_flytekits_server(bq_client, "SELECT 6 AS six")
    meta = BigQueryMetadata(job_id=job_id, project=fk.BQ_PROJECT, location="US").encode()
    # Both calls answer OK with the empty response propeller expects (a failure would raise).
    assert propeller.delete(server.async_stub, category, meta) == agent_pb2.DeleteTaskResponse()
    assert propeller.delete(server.async_stub, category, meta) == agent_pb2.DeleteTaskResponse()
    # The job is over on BigQuery's side, and the handle still reads as a finished task.
    assert bq_client.get_job(job_id, location="US").state == "DONE"
    assert is_terminal_phase(propeller.get(server.async_stub, category, meta).phase)


def test_flytekit_bigquery_meta_of_an_unknown_job_fails_the_task(server: RunningServer) -> None:
    category = propeller.category_of(fk.serialize(fk.bigquery_plain_task()))
    meta = BigQueryMetadata(job_id="no-such-job", project=fk.BQ_PROJECT, location="US").encode()
    resource = propeller.get(server.async_stub, category, meta)
    assert resource.phase == Phase.FAILED
    assert "not found" in resource.message.lower()


def test_agenthost_bigquery_meta_is_readable_by_flytekit(server: RunningServer) -> None:
    """Rolling back to flytekit's server is safe too: flytekit decodes agenthost's bytes."""
    task = fk.bigquery_plain_task()
    meta = propeller.create(server.async_stub, fk.serialize(task), fk.inputs(task, {}))
    decoded = BigQueryMetadata.decode(meta)
    assert (decoded.project, decoded.location) == (fk.BQ_PROJECT, "US")
    assert decoded.job_id == json.loads(meta)["job_id"]


# -- OpenAI batch: flytekit cloudpickles BatchEndpointMetadata(openai_org, batch_id) -----------


def _batch_started_by_flytekits_server(fake_openai: Any, input_file_id: str) -> str:
    """Create a batch as flytekit's batch connector does (the OpenAI client's batches.create)."""
    import openai

    client = openai.OpenAI(api_key="sk-flytekit", base_url=fake_openai.base_url, max_retries=0)
    try:
        batch = client.batches.create(
            input_file_id=input_file_id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
        )
    finally:
        client.close()
    return str(batch.id)


def test_flytekit_batch_meta_is_polled_to_success(server: RunningServer, fake_openai: Any) -> None:
    task = fk.batch_task()
    template = fk.serialize(task)
    batch_id = _batch_started_by_flytekits_server(fake_openai, "file-switch")
    meta = BatchEndpointMetadata(openai_org="org-compat", batch_id=batch_id).encode()
    assert meta[:1] == b"\x80"  # a pickle, as flytekit writes it

    resource, phases = propeller.poll(server.async_stub, propeller.category_of(template), meta)

    assert resource.phase == Phase.SUCCEEDED, resource.message
    assert Phase.RUNNING in phases
    result = fk.outputs(resource.outputs, task)["result"]
    assert (result["id"], result["status"]) == (batch_id, "completed")
    [request] = fake_openai.received(f"/v1/batches/{batch_id}")[:1]
    assert request["headers"]["openai-organization"] == "org-compat"


def test_flytekit_batch_meta_abort_cancels_the_batch(
    server: RunningServer, fake_openai: Any
) -> None:
    category = propeller.category_of(fk.serialize(fk.batch_task()))
    batch_id = _batch_started_by_flytekits_server(fake_openai, "file-switch-abort")
    meta = BatchEndpointMetadata(openai_org="org-compat", batch_id=batch_id).encode()

    propeller.delete(server.async_stub, category, meta)
    propeller.delete(server.async_stub, category, meta)

    assert len(fake_openai.received(f"/v1/batches/{batch_id}/cancel")) == 1
    resource, _ = propeller.poll(server.async_stub, category, meta)
    assert resource.phase == Phase.FAILED


def test_a_pickle_of_anything_else_is_refused_without_being_loaded(
    server: RunningServer, tmp_path: Any
) -> None:
    marker = tmp_path / "unpickled"

    class Exploit:
        def __reduce__(self) -> Any:
            return (open, (str(marker), "w"))

    category = propeller.category_of(fk.serialize(fk.batch_task()))
    with pytest.raises(grpc.RpcError) as raised:
        propeller.get(server.async_stub, category, pickle.dumps(Exploit()))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert not marker.exists()


def test_agenthost_batch_meta_is_not_readable_by_flytekit(server: RunningServer) -> None:
    """Documented one-way switch: agenthost writes JSON, which flytekit's batch connector
    (``cloudpickle.loads``) cannot read; batches started under agenthost must finish there."""
    task = fk.batch_task()
    meta = propeller.create(
        server.async_stub, fk.serialize(task), fk.inputs(task, {"input_file_id": "file-json"})
    )
    assert json.loads(meta)["batch_id"]
    with pytest.raises(pickle.UnpicklingError):
        BatchEndpointMetadata.decode(meta)


# -- FileSensor: flytekit's sensor engine writes JSON of SensorMetadata ------------------------


def _flytekit_sensor_meta(path: str) -> bytes:
    """What flytekit's ``SensorEngine.create`` returns for a ``FileSensor`` task."""
    from flytekit.sensor.base_sensor import SensorMetadata as FkSensorMetadata

    custom = json_format.MessageToDict(fk.serialize(fk.file_sensor()).custom)
    meta = FkSensorMetadata(**custom)
    meta.inputs = {"path": path}
    return bytes(meta.encode())


def test_flytekit_file_sensor_meta_keeps_waiting_then_succeeds(
    server: RunningServer, tmp_path: Any
) -> None:
    category = propeller.category_of(fk.serialize(fk.file_sensor()))
    target = tmp_path / "_SUCCESS"
    meta = _flytekit_sensor_meta(str(target))
    assert json.loads(meta)["sensor_module"] == "flytekit.sensor.file_sensor"

    assert propeller.get(server.async_stub, category, meta).phase == Phase.RUNNING
    target.touch()
    assert propeller.get(server.async_stub, category, meta).phase == Phase.SUCCEEDED


def test_flytekit_file_sensor_meta_can_be_deleted(server: RunningServer, tmp_path: Any) -> None:
    category = propeller.category_of(fk.serialize(fk.file_sensor()))
    meta = _flytekit_sensor_meta(str(tmp_path / "x"))
    assert propeller.delete(server.async_stub, category, meta) == agent_pb2.DeleteTaskResponse()
    # A sensor holds nothing to release: the same handle still polls (the file is absent).
    assert propeller.get(server.async_stub, category, meta).phase == Phase.RUNNING


def test_agenthost_sensor_meta_is_readable_by_flytekit(
    server: RunningServer, tmp_path: Any
) -> None:
    """Rolling back is safe: agenthost writes flytekit's own sensor metadata shape for task
    type ``sensor``, which flytekit's SensorEngine decodes."""
    from flytekit.sensor.base_sensor import SensorMetadata as FkSensorMetadata

    task = fk.file_sensor()
    path = str(tmp_path / "y")
    meta = propeller.create(server.async_stub, fk.serialize(task), fk.inputs(task, {"path": path}))
    decoded = FkSensorMetadata.decode(meta)
    assert decoded.sensor_module == "flytekit.sensor.file_sensor"
    assert decoded.sensor_name == "FileSensor"
    assert decoded.inputs == {"path": path}
