"""Reading templates as flytekit's ``BigQueryTask`` writes them, and the job configuration
built from their ``custom`` with the real client's ``QueryJobConfig``."""

from __future__ import annotations

import pytest
from bq_data import load_template

from agent_bigquery.agent import job_config_for
from agent_bigquery.parameters import query_parameters
from agent_bigquery.template import query_spec
from agenthost import InvalidRequestError
from agenthost.literals import StructuredDataset
from agenthost.testing import make_template

TASK_TYPE = "bigquery_query_job_task"


def test_flytekit_template_with_a_query_job_config() -> None:
    spec = query_spec(load_template("scalars"))
    assert spec.project == "test-project"
    assert spec.location == "US"
    assert spec.domain == "development"
    assert spec.statement.startswith("SELECT @limit")
    assert spec.job_config == {"useQueryCache": False, "maximumBytesBilled": "1000000000"}


def test_flytekit_template_without_location_or_output() -> None:
    spec = query_spec(load_template("no_output"))
    assert spec.location is None
    assert spec.job_config == {}


def test_custom_becomes_the_query_job_config() -> None:
    template = load_template("scalars")
    spec = query_spec(template)
    values = {"limit": 1, "ratio": 2.0, "label": "a", "enabled": True}
    config = job_config_for(spec, query_parameters(template.interface.inputs, values))
    assert config.use_query_cache is False
    assert config.maximum_bytes_billed == 1_000_000_000
    rest = config.to_api_repr()["query"]
    assert sorted(p["name"] for p in rest["queryParameters"]) == sorted(values)


def test_rest_form_fields_pass_through() -> None:
    custom = {
        "ProjectID": "p",
        "labels": {"team": "data"},
        "priority": "BATCH",
        "jobTimeoutMs": "60000",
        "destinationTable": {"projectId": "p", "datasetId": "d", "tableId": "t"},
        "writeDisposition": "WRITE_TRUNCATE",
    }
    template = make_template(TASK_TYPE, custom=custom, sql="SELECT 1")
    config = job_config_for(query_spec(template), [])
    assert config.labels == {"team": "data"}
    assert config.priority == "BATCH"
    assert config.to_api_repr()["jobTimeoutMs"] == "60000"
    assert str(config.destination) == "p.d.t"
    assert config.write_disposition == "WRITE_TRUNCATE"


@pytest.mark.parametrize(
    ("custom", "sql", "match"),
    [
        ({"Location": "US"}, "SELECT 1", "ProjectID"),
        ({"ProjectID": ""}, "SELECT 1", "ProjectID"),
        ({"ProjectID": "p", "Location": 3}, "SELECT 1", "Location"),
        ({"ProjectID": "p"}, "  ", "SQL statement"),
        ({"ProjectID": "p"}, None, "SQL statement"),
    ],
)
def test_bad_templates(custom: dict[str, object], sql: str | None, match: str) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        query_spec(make_template(TASK_TYPE, custom=custom, sql=sql))


def test_outputs_other_than_results_are_rejected() -> None:
    template = make_template(
        TASK_TYPE, outputs={"table": StructuredDataset}, custom={"ProjectID": "p"}, sql="SELECT 1"
    )
    with pytest.raises(InvalidRequestError, match="'table'"):
        query_spec(template)


def test_results_must_be_a_structured_dataset() -> None:
    template = make_template(
        TASK_TYPE, outputs={"results": int}, custom={"ProjectID": "p"}, sql="SELECT 1"
    )
    with pytest.raises(InvalidRequestError, match="structured dataset"):
        query_spec(template)


def test_flyte_sdk_template_secrets_are_not_query_configuration() -> None:
    from bq_data import flyte2_template

    spec = query_spec(flyte2_template())
    assert (spec.project, spec.location, spec.domain) == ("test-project", "US", "development")
    assert spec.job_config == {}
    assert "secrets" not in job_config_for(spec, []).to_api_repr()["query"]
