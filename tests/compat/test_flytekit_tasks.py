"""flytekit-authored tasks, serialized by flytekit as ``pyflyte register`` does, run through a
real ``agenthost serve`` against local emulators, with outputs decoded by flytekit's TypeEngine
into the types the tasks declare."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import flytekit_side as fk
import propeller
import pytest
from flyteidl.admin import agent_pb2
from flytekit.types.structured import StructuredDataset as FkDataset
from google.protobuf import json_format

from agenthost import Phase
from agenthost.testing import RunningServer

UTC = datetime.timezone.utc


def test_flytekit_templates_have_the_expected_task_types() -> None:
    assert fk.serialize(fk.bigquery_typed_task()).type == "bigquery_query_job_task"
    assert fk.serialize(fk.chatgpt_task()).type == "chatgpt"
    assert fk.serialize(fk.batch_task()).type == "openai-batch"
    sensor = fk.serialize(fk.file_sensor())
    assert sensor.type == "sensor"
    assert sensor.custom.fields["sensor_module"].string_value == "flytekit.sensor.file_sensor"


def test_every_task_type_is_listed(server: RunningServer) -> None:
    response = server.metadata_stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=10)
    served = {c.name for a in response.agents for c in a.supported_task_categories}
    for task in (fk.bigquery_typed_task(), fk.chatgpt_task(), fk.batch_task(), fk.file_sensor()):
        assert fk.serialize(task).type in served


# -- BigQueryTask ---------------------------------------------------------------------------


def test_bigquery_task_with_typed_inputs_and_job_config(
    server: RunningServer, bq_client: Any
) -> None:
    task = fk.bigquery_typed_task()
    template = fk.serialize(task)
    # flytekit writes the QueryJobConfig into custom in REST form; the agent sends it with the
    # job (the emulator does not echo job configuration back, so only acceptance is observable).
    custom = json_format.MessageToDict(template.custom)
    assert custom["useQueryCache"] is False
    assert custom["maximumBytesBilled"] == "1000000000"
    since = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    values = {"limit": 41, "ratio": 1.25, "label": "hi", "enabled": True, "since": since}

    meta = propeller.create(server.async_stub, template, fk.inputs(task, values))
    resource, phases = propeller.poll(server.async_stub, propeller.category_of(template), meta)

    assert resource.phase == Phase.SUCCEEDED, resource.message
    assert all(p in (Phase.RUNNING, Phase.SUCCEEDED) for p in phases)
    results = fk.outputs(resource.outputs, task)["results"]
    assert isinstance(results, FkDataset)
    job = bq_client.get_job(json.loads(meta)["job_id"], location="US")
    table = job.destination
    assert results.literal.uri == f"bq://{table.project}:{table.dataset_id}.{table.table_id}"
    [row] = [dict(row) for row in job.result()]
    # The emulator returns TIMESTAMP values without a zone (BigQuery's are UTC).
    row["since"] = row["since"].replace(tzinfo=row["since"].tzinfo or UTC)
    assert row == {
        "next_limit": 42,
        "doubled": 2.5,
        "shout": "hi!",
        "flipped": False,
        "since": since,
    }
    assert [link.name for link in resource.log_links] == ["BigQuery Console"]


def test_bigquery_task_without_inputs(server: RunningServer, bq_client: Any) -> None:
    task = fk.bigquery_plain_task()
    template = fk.serialize(task)
    assert not template.interface.inputs.variables

    meta = propeller.create(server.async_stub, template, fk.inputs(task, {}))
    resource, _ = propeller.poll(server.async_stub, propeller.category_of(template), meta)

    assert resource.phase == Phase.SUCCEEDED, resource.message
    results = fk.outputs(resource.outputs, task)["results"]
    assert results.literal.uri.startswith("bq://test-project:")
    job = bq_client.get_job(json.loads(meta)["job_id"], location="US")
    assert [tuple(row.values()) for row in job.result()] == [(7, "flyte")]


def test_bigquery_task_with_bad_sql_fails_with_bigquerys_message(server: RunningServer) -> None:
    template = fk.serialize(fk.bigquery_bad_sql_task())
    meta = propeller.create(server.async_stub, template)
    resource, _ = propeller.poll(server.async_stub, propeller.category_of(template), meta)
    assert resource.phase == Phase.FAILED
    assert "syntax error" in resource.message.lower()
    assert "Traceback" not in resource.message


# -- ChatGPTTask ----------------------------------------------------------------------------


def test_chatgpt_task_through_execute_task_sync(server: RunningServer, fake_openai: Any) -> None:
    task = fk.chatgpt_task()
    template = fk.serialize(task)
    seen = len(fake_openai.received("/v1/chat/completions"))

    [response] = propeller.execute_sync(
        server.sync_stub, template, fk.inputs(task, {"message": "Say hi"})
    )

    resource = response.header.resource
    assert resource.phase == Phase.SUCCEEDED, resource.message
    assert fk.outputs(resource.outputs, task) == {"o0": "echo: Say hi"}
    [request] = fake_openai.received("/v1/chat/completions")[seen:]
    assert request["body"]["model"] == "gpt-4o-mini"
    assert request["body"]["temperature"] == 0.2
    assert request["headers"]["openai-organization"] == "org-compat"


def test_chatgpt_task_through_create_and_get(server: RunningServer) -> None:
    """Propellers that do not know the agent is sync use CreateTask/GetTask."""
    task = fk.chatgpt_task()
    template = fk.serialize(task)
    meta = propeller.create(server.async_stub, template, fk.inputs(task, {"message": "again"}))
    resource, phases = propeller.poll(server.async_stub, propeller.category_of(template), meta)
    assert phases == [Phase.SUCCEEDED]
    assert fk.outputs(resource.outputs, task) == {"o0": "echo: again"}


def test_chatgpt_rate_limit_is_a_retryable_failure(server: RunningServer) -> None:
    task = fk.chatgpt_task(model="error-429")
    [response] = propeller.execute_sync(
        server.sync_stub, fk.serialize(task), fk.inputs(task, {"message": "hi"})
    )
    assert response.header.resource.phase == Phase.RETRYABLE_FAILED
    assert "Rate limit reached" in response.header.resource.message


# -- BatchEndpointTask ----------------------------------------------------------------------


def test_batch_endpoint_task_runs_to_a_result_flytekit_decodes(server: RunningServer) -> None:
    task = fk.batch_task()
    template = fk.serialize(task)
    meta = propeller.create(
        server.async_stub, template, fk.inputs(task, {"input_file_id": "file-compat"})
    )

    resource, phases = propeller.poll(server.async_stub, propeller.category_of(template), meta)

    assert resource.phase == Phase.SUCCEEDED, resource.message
    assert phases[0] == Phase.RUNNING
    literal = resource.outputs.literals["result"]
    assert literal.scalar.binary.tag == "msgpack"
    result = fk.outputs(resource.outputs, task)["result"]
    assert isinstance(result, dict)
    assert result["status"] == "completed"
    assert result["input_file_id"] == "file-compat"
    assert result["metadata"] == {"origin": "compat"}


def test_batch_endpoint_task_abort_cancels_the_batch(
    server: RunningServer, fake_openai: Any
) -> None:
    task = fk.batch_task()
    template = fk.serialize(task)
    category = propeller.category_of(template)
    meta = propeller.create(
        server.async_stub, template, fk.inputs(task, {"input_file_id": "file-abort"})
    )
    assert propeller.get(server.async_stub, category, meta).phase == Phase.RUNNING

    propeller.delete(server.async_stub, category, meta)

    batch_id = json.loads(meta)["batch_id"]
    assert len(fake_openai.received(f"/v1/batches/{batch_id}/cancel")) == 1
    resource, _ = propeller.poll(server.async_stub, category, meta)
    assert resource.phase == Phase.FAILED
    assert "cancel" in resource.message


# -- FileSensor -----------------------------------------------------------------------------


def test_file_sensor_waits_for_the_file(server: RunningServer, tmp_path: Path) -> None:
    task = fk.file_sensor()
    template = fk.serialize(task)
    category = propeller.category_of(template)
    target = tmp_path / "_SUCCESS"
    meta = propeller.create(server.async_stub, template, fk.inputs(task, {"path": str(target)}))

    waiting = propeller.get(server.async_stub, category, meta)
    assert waiting.phase == Phase.RUNNING
    assert str(target) in waiting.message

    target.write_text("done")
    resource, _ = propeller.poll(server.async_stub, category, meta)
    assert resource.phase == Phase.SUCCEEDED
    assert fk.outputs(resource.outputs, task) == {}


@pytest.mark.parametrize("exists", [True, False], ids=["exists", "missing"])
def test_file_sensor_on_a_file_url(server: RunningServer, tmp_path: Path, exists: bool) -> None:
    task = fk.file_sensor()
    template = fk.serialize(task)
    target = tmp_path / "flag"
    if exists:
        target.touch()
    meta = propeller.create(server.async_stub, template, fk.inputs(task, {"path": target.as_uri()}))
    phase = propeller.get(server.async_stub, propeller.category_of(template), meta).phase
    assert phase == (Phase.SUCCEEDED if exists else Phase.RUNNING)
