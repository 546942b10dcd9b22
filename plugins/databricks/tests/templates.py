"""Task templates in the shapes flytekit 1.16.31's ``DatabricksV2``/``Spark`` tasks and
flyte-sdk 2.12.1's ``Databricks`` plugin write (``custom`` is ``MessageToDict(SparkJob)``
plus the Databricks fields; numbers are floats, as a protobuf Struct holds them)."""

from __future__ import annotations

from typing import Any

from flyteidl.core import literals_pb2
from flyteidl.core.tasks_pb2 import Container, RuntimeMetadata, TaskMetadata, TaskTemplate

from agenthost.testing import make_template

FLYTEKIT_ARGS = [
    "pyflyte-fast-execute", "--additional-distribution", "s3://bucket/fast.tar.gz",
    "--dest-dir", ".", "--", "pyflyte-execute", "--inputs", "{{.input}}",
    "--output-prefix", "{{.outputPrefix}}", "--raw-output-data-prefix", "{{.rawOutputDataPrefix}}",
    "--resolver", "flytekit.core.python_auto_container.default_task_resolver",
    "--", "task-module", "wf", "task-name", "hello_spark",
]  # fmt: skip
FLYTE_SDK_ARGS = ["a0", "--inputs", "{{.input}}", "--outputs-path", "{{.outputPrefix}}"]
IMAGE = "ghcr.io/example/spark:latest"


def spark_custom(conf: dict[str, Any], instance: str | None, **extra: Any) -> dict[str, Any]:
    """``custom`` as flytekit writes it for a ``DatabricksV2`` task."""
    custom: dict[str, Any] = {
        "sparkConf": {"spark.driver.memory": "1g"},
        "mainApplicationFile": "local:///usr/local/bin/entrypoint.py",
        "executorPath": "/usr/bin/python3",
        "databricksConf": conf,
        **extra,
    }
    if instance is not None:
        custom["databricksInstance"] = instance
    return custom


def new_cluster_conf(run_name: str = "flyte") -> dict[str, Any]:
    return {
        "run_name": run_name,
        "new_cluster": {
            "spark_version": "13.3.x-scala2.12",
            "node_type_id": "m5.xlarge",
            "num_workers": 2.0,
        },
        "timeout_seconds": 3600.0,
    }


def template(
    task_type: str,
    custom: dict[str, Any],
    *,
    sdk_version: str = "1.16.31",
    args: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> TaskTemplate:
    """A container task template of ``task_type`` with ``custom``."""
    built = make_template(task_type, custom=custom)
    built.metadata.CopyFrom(
        TaskMetadata(
            runtime=RuntimeMetadata(
                type=RuntimeMetadata.FLYTE_SDK, version=sdk_version, flavor="python"
            )
        )
    )
    default_args = FLYTE_SDK_ARGS if sdk_version.startswith("2") else FLYTEKIT_ARGS
    built.container.CopyFrom(
        Container(
            image=IMAGE,
            args=args if args is not None else default_args,
            env=[
                literals_pb2.KeyValuePair(key=k, value=v)
                for k, v in (env or {"FLYTE_INTERNAL_IMAGE": IMAGE}).items()
            ],
        )
    )
    return built
