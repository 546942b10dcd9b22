"""agent-databricks against flytekit 1.16.31's ``flytekitplugins-spark`` and flyte-sdk 2.12.1's
``flyteplugins-databricks``: templates serialized by the real plugins run through
``agenthost serve`` against the plugin's local Jobs API fake, and the ``runs/submit`` body
agenthost sends is the one each SDK's own connector builds from the same template (flyte-sdk's
is generated beside its template, ``flyte2_fixtures/databricks_job_spec``); handles go both
ways (flytekit reads agenthost's, agenthost reads flytekit's, ``auth_token`` included)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("flytekitplugins.spark")


from fake_databricks import FakeDatabricks
from flyteidl.admin import agent_pb2
from flyteidl.core import tasks_pb2
from flyteidl.core.execution_pb2 import TaskExecution
from flytekit import task
from flytekit.models.task import TaskTemplate as FlytekitTemplate
from flytekit_side import inputs, serialize
from flytekitplugins.spark import Databricks, DatabricksV2
from flytekitplugins.spark.connector import (
    DatabricksJobMetadata,
    _get_databricks_job_spec,
)
from google.protobuf import json_format

from agent_databricks.template import integral_numbers
from agenthost.testing import RunningServer, run_on_server, running_server

TOKEN = "dapi-compat-0123456789"
INSTANCE = "placeholder"  # replaced by the fake's address in each template
NEW_CLUSTER = {"spark_version": "13.3.x-scala2.12", "node_type_id": "m5.xlarge", "num_workers": 2}
ENVIRONMENT = {"LOG_LEVEL": "debug"}
"""The task's environment variables: injected into the run as flytekit's connector does."""


@task(
    environment=ENVIRONMENT,
    task_config=DatabricksV2(
        databricks_conf={
            "run_name": "new-cluster",
            "new_cluster": NEW_CLUSTER,
            "timeout_seconds": 600,
        },
        databricks_instance=INSTANCE,
        spark_conf={"spark.driver.memory": "1g"},
    ),
)
def dbx_new_cluster(n: int) -> int:
    return n


@task(
    task_config=DatabricksV2(
        databricks_conf={"run_name": "existing", "existing_cluster_id": "0101-123456-abcdef"},
        databricks_instance=INSTANCE,
    )
)
def dbx_existing_cluster(n: int) -> int:
    return n


@task(
    environment=ENVIRONMENT,
    task_config=DatabricksV2(
        databricks_conf={
            "run_name": "serverless",
            "environment_key": "default",
            "environments": [
                {
                    "environment_key": "default",
                    "spec": {"client": "2", "dependencies": ["pandas==2.2.2"]},
                }
            ],
        },
        databricks_instance=INSTANCE,
        databricks_service_credential_provider="flyte-s3",
    ),
)
def dbx_serverless(n: int) -> int:
    return n


@task(
    environment=ENVIRONMENT,
    task_config=DatabricksV2(
        databricks_conf={
            "run_name": "notebook",
            "new_cluster": NEW_CLUSTER,
            "git_source": {
                "git_url": "https://github.com/acme/notebooks",
                "git_provider": "gitHub",
                "git_branch": "main",
            },
        },
        databricks_instance=INSTANCE,
        notebook_path="etl/daily",
        notebook_base_parameters={"day": "2026-12-05"},
    ),
)
def dbx_notebook(n: int) -> int:
    return n


@task(
    task_config=DatabricksV2(
        databricks_conf={"run_name": "job-fail", "new_cluster": NEW_CLUSTER},
        databricks_instance=INSTANCE,
    )
)
def dbx_failing(n: int) -> int:
    return n


@task(
    task_config=Databricks(
        databricks_conf={"run_name": "legacy", "new_cluster": NEW_CLUSTER},
        databricks_instance=INSTANCE,
    )
)
def legacy_spark(n: int) -> int:  # flytekit's deprecated config, task type spark
    return n


SHAPES = {
    "new_cluster": dbx_new_cluster,
    "existing_cluster": dbx_existing_cluster,
    "serverless": dbx_serverless,
    "notebook_git_source": dbx_notebook,
    "legacy_spark": legacy_spark,
}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeDatabricks]:
    with FakeDatabricks({TOKEN}) as running:
        yield running


@pytest.fixture(scope="module")
def databricks_server(fake: FakeDatabricks) -> Iterator[RunningServer]:
    env = {"DATABRICKS_INSTANCES": fake.base_url, "_FSEC_FLYTE_DATABRICKS_ACCESS_TOKEN": TOKEN}
    with running_server("--allow", "agent-databricks", env=env) as server:
        yield server


def flytekit_template(flytekit_task: Any, fake: FakeDatabricks) -> tasks_pb2.TaskTemplate:
    """The template flytekit registers, pointed at the fake (the only field changed)."""
    built = serialize(flytekit_task)
    assert built.custom.fields["databricksInstance"].string_value == INSTANCE
    built.custom.fields["databricksInstance"].string_value = fake.netloc
    return built


@pytest.mark.parametrize("shape", list(SHAPES))
def test_flytekit_template_submits_what_flytekit_submits(
    shape: str, databricks_server: RunningServer, fake: FakeDatabricks
) -> None:
    built = flytekit_template(SHAPES[shape], fake)
    assert built.type == ("spark" if shape == "legacy_spark" else "databricks")
    result = run_on_server(databricks_server, built, {"n": 1})
    assert result.phase_name == "SUCCEEDED", result.message
    sent = dict(fake.requests_to("runs/submit")[-1].body)
    sent.pop("idempotency_token", None)
    expected = _get_databricks_job_spec(FlytekitTemplate.from_flyte_idl(built))
    assert sent == integral_numbers(json.loads(json.dumps(expected)))
    if any(kv.key in ENVIRONMENT for kv in built.container.env):
        injected = sent.get("new_cluster", {}).get("spark_env_vars") or next(
            e["spec"]["environment_vars"] for e in sent["environments"]
        )
        assert injected == {**ENVIRONMENT, "FLYTE_FAIL_ON_ERROR": "true"}


def test_failed_run_is_failed_with_databricks_message(
    databricks_server: RunningServer, fake: FakeDatabricks
) -> None:
    result = run_on_server(databricks_server, flytekit_template(dbx_failing, fake), {"n": 1})
    assert result.phase_name == "FAILED"
    assert "ZeroDivisionError" in result.message


def test_flytekit_reads_agenthost_handle(
    databricks_server: RunningServer, fake: FakeDatabricks
) -> None:
    built = flytekit_template(dbx_new_cluster, fake)
    created = databricks_server.async_stub.CreateTask(
        agent_pb2.CreateTaskRequest(
            template=built, inputs=inputs(dbx_new_cluster, {"n": 1}), output_prefix="s3://b/o"
        ),
        timeout=30,
    )
    meta = DatabricksJobMetadata.decode(created.resource_meta)
    assert meta.databricks_instance == fake.netloc and meta.auth_token is None
    assert int(meta.run_id) in fake.state.runs


def test_agenthost_reads_flytekit_handle_in_flight_with_its_token(
    databricks_server: RunningServer, fake: FakeDatabricks
) -> None:
    """A run flytekit >= 1.16.15 started with a per-namespace token: agenthost polls and
    cancels it with that token, on that run's instance."""
    namespace_token = "dapi-namespace-compat-42"
    fake.state.tokens.add(namespace_token)
    from fake_databricks import Run

    run_id = next(fake.state.ids)
    fake.state.runs[run_id] = Run(run_id=run_id, job_id=1, spec={"run_name": "slow"})
    handle = DatabricksJobMetadata(
        databricks_instance=fake.netloc,
        run_id=str(run_id),
        auth_token=namespace_token,
        auth_type="pat",
        oauth_secret_name="databricks-oauth",
        namespace="flytesnacks-development",
    ).encode()
    category = agent_pb2.TaskCategory(name="databricks", version=0)
    resource = databricks_server.async_stub.GetTask(
        agent_pb2.GetTaskRequest(task_category=category, resource_meta=handle), timeout=30
    ).resource
    assert resource.phase == TaskExecution.RUNNING
    databricks_server.async_stub.DeleteTask(
        agent_pb2.DeleteTaskRequest(task_category=category, resource_meta=handle), timeout=30
    )
    cancels = fake.requests_to("runs/cancel")
    assert cancels[-1].authorization == f"Bearer {namespace_token}"
    assert fake.state.runs[run_id].result == "CANCELED"


def flyte_sdk_template() -> tasks_pb2.TaskTemplate:
    """flyte-sdk 2.12.1's Databricks template, read as flyteidl's: the one the compat session
    generates with flyte-sdk (``AGENTHOST_FLYTE2_FIXTURES``), else the committed fixture."""
    data = json.loads(_flyte2_fixture("databricks_task_template.json").read_text())
    data.pop("interface", None)  # flyteidl2's variable list; the task has no outputs we return
    return json_format.ParseDict(data, tasks_pb2.TaskTemplate(), ignore_unknown_fields=True)


def flyte_sdk_job_spec() -> dict[str, Any]:
    """The ``runs/submit`` body flyte-sdk 2.12.1's own connector builds from
    ``flyte_sdk_template()`` (generated beside it, else the committed fixture)."""
    return dict(json.loads(_flyte2_fixture("databricks_job_spec.json").read_text()))


def _flyte2_fixture(name: str) -> Path:
    generated = Path(os.environ.get("AGENTHOST_FLYTE2_FIXTURES", "/nonexistent")) / name
    if generated.is_file():
        return generated
    return Path(__file__).resolve().parent / "flyte2_fixtures" / name


def test_flyte_sdk_template_runs(databricks_server: RunningServer, fake: FakeDatabricks) -> None:
    built = flyte_sdk_template()
    assert built.metadata.runtime.version.startswith("2.")
    built.custom.fields["databricksInstance"].string_value = fake.netloc
    result = run_on_server(databricks_server, built)
    assert result.phase_name == "SUCCEEDED", result.message
    sent = fake.requests_to("runs/submit")[-1].body
    assert sent == flyte_sdk_job_spec()  # 1 == 1.0: flyte-sdk sends Struct numbers as floats
    assert isinstance(sent["new_cluster"]["num_workers"], int)


def test_flyte_sdk_template_over_v2_with_the_connections_token(
    databricks_server: RunningServer, fake: FakeDatabricks
) -> None:
    """The Flyte 2 executor's calls for flyte-sdk's template, the task's ``databricks_token``
    in ``connection`` (the host has another token): that token reaches Databricks, every call."""
    import executor2
    from flyteidl2.connector import connector_pb2
    from flyteidl2.core import tasks_pb2

    template = executor2.fixture("databricks_task_template", tasks_pb2.TaskTemplate)
    template.custom["databricksInstance"] = fake.netloc
    request = executor2.fixture("bigquery_create_task_request", connector_pb2.CreateTaskRequest)
    request.template.CopyFrom(template)
    (literal,) = request.inputs.literals
    literal.name = "n"
    literal.value.scalar.primitive.integer = 1
    task_token = "dapi-flyte2-compat-token"
    fake.state.tokens.add(task_token)
    request.connection.secrets.clear()
    request.connection.secrets["databricks_token"] = task_token
    stub = executor2.async_stub(databricks_server.channel)
    before = len(fake.state.requests)
    created = stub.CreateTask(request, timeout=executor2.CALL_TIMEOUT)
    category = executor2.category_of(template)
    resource, phases = executor2.poll(stub, category, created.resource_meta, request.connection)
    assert resource.phase == TaskExecution.SUCCEEDED, resource.message
    assert 0 not in phases  # never UNDEFINED
    calls = fake.state.requests[before:]
    assert [c.path.rsplit("/", 1)[-1] for c in calls] == ["submit"] + ["get"] * len(phases)
    assert {c.authorization for c in calls} == {f"Bearer {task_token}"}
    submitted = dict(calls[0].body)
    assert submitted.pop("idempotency_token").startswith("flyte-")  # ours: from the execution
    assert submitted == flyte_sdk_job_spec()
    assert task_token.encode() not in created.resource_meta
    assert task_token not in databricks_server.logs()
