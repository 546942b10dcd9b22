"""Regenerate the flytekit-made fixtures in this directory (run by hand, never by the tests).

The fixtures are task templates serialized by flytekit's own ``BigQueryTask`` and the
``resource_meta`` bytes flytekit's BigQuery connector writes, so the plugin's tests prove it
accepts what flytekit produces without depending on flytekit. Run it in a throwaway venv::

    python3 -m venv /tmp/venv-fk-bq
    /tmp/venv-fk-bq/bin/pip install "flytekit==1.16.31" flytekitplugins-bigquery
    /tmp/venv-fk-bq/bin/python plugins/bigquery/tests/data/regenerate_fixtures.py

It overwrites ``template_*.json`` (``TaskTemplate`` in protobuf JSON form) and
``resource_meta_flytekit.json`` beside itself. Commit the result together with the flytekit
version it printed.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import flytekit
from flytekit import StructuredDataset, kwtypes
from flytekit.configuration import Image, ImageConfig, SerializationSettings
from flytekit.tools.translator import get_serializable
from flytekitplugins.bigquery import BigQueryConfig, BigQueryTask
from flytekitplugins.bigquery.connector import BigQueryMetadata
from google.cloud import bigquery
from google.protobuf import json_format

HERE = Path(__file__).resolve().parent


def _tasks() -> dict[str, BigQueryTask]:
    return {
        "scalars": BigQueryTask(
            name="fixtures.bigquery.scalars",
            inputs=kwtypes(limit=int, ratio=float, label=str, enabled=bool),
            query_template=(
                "SELECT @limit AS limit_value, @ratio * 2 AS doubled, "
                "CONCAT(@label, '!') AS shout, NOT @enabled AS flipped"
            ),
            output_structured_dataset_type=StructuredDataset,
            task_config=BigQueryConfig(
                ProjectID="test-project",
                Location="US",
                QueryJobConfig=bigquery.QueryJobConfig(
                    use_query_cache=False, maximum_bytes_billed=10**9
                ),
            ),
        ),
        "other_types": BigQueryTask(
            name="fixtures.bigquery.other_types",
            inputs=kwtypes(when=datetime.datetime, ids=list[int]),
            query_template="SELECT @when AS w, ARRAY_LENGTH(@ids) AS n",
            output_structured_dataset_type=StructuredDataset,
            task_config=BigQueryConfig(ProjectID="test-project", Location="EU"),
        ),
        "no_output": BigQueryTask(
            name="fixtures.bigquery.no_output",
            query_template="SELECT 1 AS one",
            task_config=BigQueryConfig(ProjectID="test-project"),
        ),
    }


def main() -> None:
    settings = SerializationSettings(
        project="flytesnacks",
        domain="development",
        version="fixture",
        image_config=ImageConfig(default_image=Image(name="default", fqn="img", tag="v1")),
    )
    for name, task in _tasks().items():
        entity = get_serializable({}, settings, task)
        template = entity.template.to_flyte_idl()
        path = HERE / f"template_{name}.json"
        path.write_text(json_format.MessageToJson(template, indent=2, sort_keys=True) + "\n")
        print("wrote", path.name)
    meta = BigQueryMetadata(job_id="flyte-job-1", project="test-project", location="US")
    (HERE / "resource_meta_flytekit.json").write_bytes(meta.encode())
    print("wrote resource_meta_flytekit.json; flytekit", flytekit.__version__)


if __name__ == "__main__":
    main()
