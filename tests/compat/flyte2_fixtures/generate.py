"""Serialize Flyte 2 connector tasks with flyte-sdk itself (run only in the flyte-sdk venv).

``python generate.py OUT_DIR`` writes, for each fixture NAME, ``NAME.pb`` (the message,
deterministic binary) and ``NAME.json`` (``MessageToDict`` with proto field names, for reading)
plus ``versions.json``. The ``compat`` nox session runs it in a venv of its own with
``FLYTE2_REFERENCE`` installed (flyte-sdk is never installed beside agenthost) and the compat
tests check that the copies committed beside this file are what flyte-sdk produces today.

Fixtures (``flyteidl2`` messages):

* ``bigquery_task_template``: flyte-sdk's ``BigQueryTask`` (custom ``ProjectID``, ``Location``,
  ``Domain``, ``secrets``; interface as variable entries; a ``DataFrame`` output) in the
  bqemulator's project, with a query the emulator runs;
* ``bigquery_resource_meta``: ``CreateTaskResponse`` whose ``resource_meta`` is flyte-sdk's
  ``BigQueryMetadata`` (``{job_id, project, location, user_agent}``) for a job id of
  ``JOB_ID_PLACEHOLDER`` (tests start a real job and substitute its id);
* ``bigquery_get_task_response``: what flyte-sdk's server answers for a finished BigQuery job;
* ``bigquery_create_task_request``: the ``CreateTaskRequest`` the Flyte 2 executor builds for
  the BigQuery task (inputs as named literals, connection with the secret's value);
* ``snowflake_task_template``, ``databricks_task_template``: flyte-sdk's Snowflake and
  Databricks tasks, for those plugins' tests;
* ``databricks_job_spec``: the ``runs/submit`` body flyte-sdk's own Databricks connector builds
  from ``databricks_task_template`` (a ``Struct``), which agent-databricks must send too.
"""

from __future__ import annotations

import asyncio
import json
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import flyte
from flyte._internal.runtime.task_serde import get_proto_task
from flyte.connectors import Resource
from flyte.connectors._connector import get_resource_proto
from flyte.io import DataFrame
from flyte.models import SerializationContext
from flyteidl2.connector import connector_pb2
from flyteidl2.core import execution_pb2, identifier_pb2, literals_pb2, security_pb2
from flyteidl2.task import common_pb2
from flyteplugins.bigquery import BigQueryConfig, BigQueryTask
from flyteplugins.bigquery.connector import BigQueryMetadata
from flyteplugins.databricks import Databricks
from flyteplugins.databricks.connector import _get_databricks_job_spec
from flyteplugins.snowflake import Snowflake, SnowflakeConfig
from google.protobuf import json_format, struct_pb2

BQ_PROJECT = "test-project"
"""The project the bqemulator serves (``bq_emulator.PROJECT``)."""

BQ_QUERY = "SELECT @min_count + 1 AS next_count, 'flyte2' AS source"
JOB_ID_PLACEHOLDER = "JOB_ID"
SECRET_PLACEHOLDER = "<secret value>"
USER_AGENT = "Flyte/2.12.1 (GPN:Union;development)"
CONTEXT = SerializationContext(
    version="v1", project="flytesnacks", domain="development", org="testorg"
)
DISTRIBUTIONS = (
    "flyte",
    "flyteidl2",
    "flyteplugins-bigquery",
    "flyteplugins-snowflake",
    "flyteplugins-databricks",
    "protobuf",
)


def bigquery_task() -> BigQueryTask:
    return BigQueryTask(
        name="bigquery_next_count",
        query_template=BQ_QUERY,
        plugin_config=BigQueryConfig(ProjectID=BQ_PROJECT, Location="US"),
        inputs={"min_count": int},
        output_dataframe_type=DataFrame,
        google_application_credentials="gcp-sa-json",
    )


def snowflake_task() -> Snowflake:
    return Snowflake(
        name="snowflake_select",
        query_template="SELECT * FROM t WHERE id = %(id)s",
        plugin_config=SnowflakeConfig(
            account="myorg-myaccount", user="flyte", database="DB", schema="PUBLIC", warehouse="WH"
        ),
        inputs={"id": int},
        output_dataframe_type=DataFrame,
        snowflake_private_key="snowflake-pk",
    )


databricks_env = flyte.TaskEnvironment(
    name="dbx_env",
    plugin_config=Databricks(
        databricks_conf={
            "run_name": "flyte",
            "new_cluster": {
                "spark_version": "13.3.x-scala2.12",
                "node_type_id": "m5.xlarge",
                "num_workers": 1,
            },
        },
        databricks_instance="myorg.cloud.databricks.com",
    ),
    image="ghcr.io/example/spark:latest",
)


@databricks_env.task
async def hello_spark(n: int) -> float:
    """A Databricks (Spark) task; only its template is used."""
    return float(n)


def executor_create_request(template: Any) -> connector_pb2.CreateTaskRequest:
    """The request the Flyte 2 executor's connector plugin builds: ``template.custom`` parsed as
    a ``Connection`` with each secret name replaced by its value, inputs as named literals."""
    custom = json_format.MessageToDict(template.custom)
    connection = security_pb2.Connection(
        secrets={key: SECRET_PLACEHOLDER for key in custom.get("secrets", {})}
    )
    metadata = connector_pb2.TaskExecutionMetadata(
        task_execution_id=identifier_pb2.TaskExecutionIdentifier(
            task_id=template.id,
            node_execution_id=identifier_pb2.NodeExecutionIdentifier(
                node_id="a1",
                execution_id=identifier_pb2.WorkflowExecutionIdentifier(
                    project="flytesnacks", domain="development", name="r1abc"
                ),
            ),
        ),
        namespace="flytesnacks-development",
        labels={"organization": "default", "project": "flytesnacks", "domain": "development"},
        environment_variables={"ACTION_NAME": "a1", "RUN_NAME": "r1abc", "_U_ORG_NAME": "local"},
        k8s_service_account="default",
    )
    count = literals_pb2.Literal(
        scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=41))
    )
    return connector_pb2.CreateTaskRequest(
        inputs=common_pb2.Inputs(literals=[common_pb2.NamedLiteral(name="min_count", value=count)]),
        template=template,
        output_prefix="s3://bucket/r1abc/a1/0",
        task_execution_metadata=metadata,
        connection=connection,
    )


async def fixtures() -> dict[str, Any]:
    bigquery = get_proto_task(bigquery_task(), CONTEXT)
    meta = BigQueryMetadata(
        job_id=JOB_ID_PLACEHOLDER, project=BQ_PROJECT, location="US", user_agent=USER_AGENT
    )
    finished = await get_resource_proto(
        Resource(
            phase=execution_pb2.TaskExecution.SUCCEEDED,
            message="DONE",
            outputs={"results": DataFrame(uri=f"bq://{BQ_PROJECT}:dataset.table")},
        )
    )
    with_root = SerializationContext(
        version="v1",
        project="flytesnacks",
        domain="development",
        org="testorg",
        root_dir=Path(__file__).parent,
    )
    databricks = get_proto_task(hello_spark, with_root)
    job_spec = struct_pb2.Struct()
    job_spec.update(_get_databricks_job_spec(databricks))
    return {
        "bigquery_task_template": bigquery,
        "bigquery_resource_meta": connector_pb2.CreateTaskResponse(resource_meta=meta.encode()),
        "bigquery_get_task_response": connector_pb2.GetTaskResponse(resource=finished),
        "bigquery_create_task_request": executor_create_request(bigquery),
        "snowflake_task_template": get_proto_task(snowflake_task(), CONTEXT),
        "databricks_task_template": databricks,
        "databricks_job_spec": job_spec,
    }


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, message in asyncio.run(fixtures()).items():
        (out / f"{name}.pb").write_bytes(message.SerializeToString(deterministic=True))
        as_dict = json_format.MessageToDict(message, preserving_proto_field_name=True)
        (out / f"{name}.json").write_text(json.dumps(as_dict, indent=2, sort_keys=True) + "\n")
    versions = {name: version(name) for name in DISTRIBUTIONS}
    (out / "versions.json").write_text(json.dumps(versions, indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
