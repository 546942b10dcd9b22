"""The flytekit-made fixtures in ``data/`` (see ``data/regenerate_fixtures.py``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flyteidl.core.tasks_pb2 import TaskTemplate
from google.protobuf import json_format

DATA = Path(__file__).resolve().parent / "data"


def load_template(name: str) -> TaskTemplate:
    """A template serialized by flytekit's ``BigQueryTask`` (see data/regenerate_fixtures.py)."""
    return json_format.Parse((DATA / f"template_{name}.json").read_text(), TaskTemplate())


def flytekit_resource_meta(**fields: Any) -> bytes:
    """``resource_meta`` bytes exactly as flytekit's connector writes them (``json.dumps`` of
    the dataclass, with its default separators), with ``fields`` substituted."""
    recorded = json.loads((DATA / "resource_meta_flytekit.json").read_bytes())
    assert list(recorded) == ["job_id", "project", "location"]
    recorded.update(fields)
    encoded = json.dumps(recorded).encode("utf-8")
    return encoded


FLYTE2_FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "compat" / "flyte2_fixtures"
"""Messages serialized by flyte-sdk 2.12.1 (see that folder's ``generate.py``)."""


def flyte2_template() -> TaskTemplate:
    """flyte-sdk's ``BigQueryTask`` template (a ``flyteidl2`` message: wire-compatible with
    flyteidl's ``TaskTemplate``, its interface a list of variable entries on the wire)."""
    template = TaskTemplate()
    template.ParseFromString((FLYTE2_FIXTURES / "bigquery_task_template.pb").read_bytes())
    return template
