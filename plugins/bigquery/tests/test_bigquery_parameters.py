"""Interface types -> BigQuery query parameter types, built with the real client classes."""

from __future__ import annotations

import datetime
from typing import Any, Optional

import pytest

from agent_bigquery.parameters import bigquery_type, query_parameters
from agenthost import InvalidRequestError
from agenthost.literals import Blob, StructuredDataset, literal_type_for, variable_map


@pytest.mark.parametrize(
    ("python_type", "expected"),
    [
        (int, ("INT64", None)),
        (float, ("FLOAT64", None)),
        (str, ("STRING", None)),
        (bool, ("BOOL", None)),
        (datetime.datetime, ("DATETIME", None)),
        (bytes, ("BYTES", None)),
        (list[int], ("ARRAY", "INT64")),
        (list[str], ("ARRAY", "STRING")),
        (Optional[int], ("INT64", None)),  # noqa: UP045 - the union flytekit declares
        (list[Optional[float]], ("ARRAY", "FLOAT64")),  # noqa: UP045
    ],
)
def test_types(python_type: Any, expected: tuple[str, str | None]) -> None:
    assert bigquery_type(literal_type_for(python_type)) == expected


@pytest.mark.parametrize(
    "python_type",
    [dict[str, int], list[list[int]], StructuredDataset, Blob, datetime.timedelta, int | str],
)
def test_types_bigquery_cannot_take(python_type: Any) -> None:
    with pytest.raises(ValueError, match="no BigQuery query parameter type"):
        bigquery_type(literal_type_for(python_type))


def test_parameters_in_rest_form() -> None:
    variables = variable_map(
        {"n": int, "x": float, "s": str, "b": bool, "raw": bytes, "ids": list[int], "o": int | None}
    )
    values = {"n": 3, "x": 0.5, "s": "a", "b": False, "raw": b"\x00\xff", "ids": [1, 2], "o": None}
    reprs = {p.name: p.to_api_repr() for p in query_parameters(variables, values)}
    assert reprs["n"]["parameterType"] == {"type": "INT64"}
    assert reprs["n"]["parameterValue"] == {"value": "3"}
    assert reprs["x"]["parameterType"] == {"type": "FLOAT64"}
    assert reprs["b"]["parameterValue"] == {"value": "false"}
    assert reprs["raw"]["parameterValue"] == {"value": "AP8="}
    assert reprs["ids"]["parameterType"] == {"type": "ARRAY", "arrayType": {"type": "INT64"}}
    assert reprs["ids"]["parameterValue"] == {"arrayValues": [{"value": "1"}, {"value": "2"}]}
    assert reprs["o"]["parameterType"] == {"type": "INT64"}
    assert reprs["o"]["parameterValue"] == {"value": None}


def test_aware_datetimes_become_utc_wall_clock() -> None:
    zone = datetime.timezone(datetime.timedelta(hours=2))
    when = datetime.datetime(2024, 1, 1, 12, 0, tzinfo=zone)
    [parameter] = query_parameters(variable_map({"when": datetime.datetime}), {"when": when})
    assert parameter.to_api_repr()["parameterValue"] == {"value": "2024-01-01T10:00:00.000000"}


def test_unsupported_input_names_the_input() -> None:
    with pytest.raises(InvalidRequestError, match="'m'"):
        query_parameters(variable_map({"m": dict[str, int]}), {"m": {"a": 1}})


def test_undeclared_input_is_rejected() -> None:
    with pytest.raises(InvalidRequestError, match="'extra'"):
        query_parameters(variable_map({}), {"extra": 1})
