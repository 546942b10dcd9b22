"""What a flytekit user and flytekit's own server produce, made by flytekit itself.

``serialize(task)`` is what ``pyflyte register`` sends for a task: ``get_serializable`` with a
``SerializationSettings``, then ``to_flyte_idl()``, round-tripped through bytes into flyteidl's
``TaskTemplate`` (as propeller reads it from FlyteAdmin). ``inputs(task, values)`` is the
``LiteralMap`` flytekit writes for a task's inputs; ``outputs(literal_map, task)`` decodes
what agenthost returned into the Python types the task declares, with flytekit's TypeEngine.
"""

from __future__ import annotations

import datetime
from collections import OrderedDict
from typing import Any

from flyteidl.core import literals_pb2, tasks_pb2
from flytekit import FlyteContextManager, StructuredDataset, kwtypes
from flytekit.configuration import Image, ImageConfig, SerializationSettings
from flytekit.core.type_engine import TypeEngine
from flytekit.models.literals import LiteralMap as FkLiteralMap
from flytekit.sensor.file_sensor import FileSensor
from flytekit.tools.translator import get_serializable
from flytekitplugins.bigquery import BigQueryConfig, BigQueryTask
from flytekitplugins.openai import BatchEndpointTask, ChatGPTTask

BQ_PROJECT = "test-project"
"""The project the bqemulator serves (``bq_emulator.PROJECT``)."""

TYPED_SQL = (
    "SELECT @limit + 1 AS next_limit, @ratio * 2 AS doubled, CONCAT(@label, '!') AS shout, "
    "NOT @enabled AS flipped, @since AS since"
)


def settings() -> SerializationSettings:
    """Serialization settings as ``pyflyte register`` builds them for a project/domain."""
    image = Image(name="default", fqn="cr.flyte.org/flyteorg/flytekit", tag="py3.11-1.16.31")
    return SerializationSettings(
        project="flytesnacks",
        domain="development",
        version="compat-v1",
        image_config=ImageConfig(default_image=image, images=[image]),
    )


def serialize(task: Any) -> tasks_pb2.TaskTemplate:
    """The ``TaskTemplate`` flytekit registers for ``task``, as propeller receives it."""
    entity = get_serializable(OrderedDict(), settings(), task)
    wire = entity.template.to_flyte_idl().SerializeToString()
    template = tasks_pb2.TaskTemplate()
    template.ParseFromString(wire)
    return template


def inputs(task: Any, values: dict[str, Any]) -> literals_pb2.LiteralMap:
    """The input ``LiteralMap`` flytekit writes for ``task`` called with ``values``."""
    ctx = FlyteContextManager.current_context()
    types = {name: task.python_interface.inputs[name] for name in values}
    fk_map = TypeEngine.dict_to_literal_map(ctx, values, types)
    proto = literals_pb2.LiteralMap()
    proto.ParseFromString(fk_map.to_flyte_idl().SerializeToString())
    return proto


def outputs(literal_map: literals_pb2.LiteralMap, task: Any) -> dict[str, Any]:
    """``literal_map`` decoded by flytekit into the Python types ``task`` declares."""
    ctx = FlyteContextManager.current_context()
    fk_map = FkLiteralMap.from_flyte_idl(literal_map)
    declared = dict(task.python_interface.outputs)
    return TypeEngine.literal_map_to_kwargs(ctx, fk_map, declared)  # type: ignore[no-any-return]


def bigquery_typed_task() -> BigQueryTask:
    """A ``BigQueryTask`` with int/float/str/bool/datetime inputs and a ``QueryJobConfig``."""
    from google.cloud import bigquery

    return BigQueryTask(
        name="compat.bigquery.typed",
        inputs=kwtypes(limit=int, ratio=float, label=str, enabled=bool, since=datetime.datetime),
        query_template=TYPED_SQL,
        output_structured_dataset_type=StructuredDataset,
        task_config=BigQueryConfig(
            ProjectID=BQ_PROJECT,
            Location="US",
            QueryJobConfig=bigquery.QueryJobConfig(
                use_query_cache=False,
                maximum_bytes_billed=10**9,
            ),
        ),
    )


def bigquery_plain_task() -> BigQueryTask:
    """A ``BigQueryTask`` without inputs."""
    return BigQueryTask(
        name="compat.bigquery.plain",
        query_template="SELECT 7 AS seven, 'flyte' AS word",
        output_structured_dataset_type=StructuredDataset,
        task_config=BigQueryConfig(ProjectID=BQ_PROJECT, Location="US"),
    )


def bigquery_bad_sql_task() -> BigQueryTask:
    """A ``BigQueryTask`` whose query does not parse."""
    return BigQueryTask(
        name="compat.bigquery.bad",
        query_template="SELEC 1 FROM",
        task_config=BigQueryConfig(ProjectID=BQ_PROJECT, Location="US"),
    )


def chatgpt_task(model: str = "gpt-4o-mini") -> ChatGPTTask:
    """A ``ChatGPTTask`` (sync)."""
    return ChatGPTTask(
        name=f"compat.chatgpt.{model.replace('-', '_')}",
        openai_organization="org-compat",
        chatgpt_config={"model": model, "temperature": 0.2},
    )


def batch_task() -> BatchEndpointTask:
    """A ``BatchEndpointTask`` (async)."""
    return BatchEndpointTask(
        name="compat.openai_batch",
        openai_organization="org-compat",
        config={"metadata": {"origin": "compat"}},
    )


def file_sensor() -> FileSensor:
    """flytekit's ``FileSensor`` (task type ``sensor``)."""
    return FileSensor(name="compat.file_sensor")
