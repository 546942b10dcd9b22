"""Typed task inputs -> BigQuery named query parameters (``@name`` in the SQL).

The BigQuery type of each parameter comes from the task interface, not from the Python value:

=====================  ==================
Flyte literal type     BigQuery type
=====================  ==================
integer                INT64
float                  FLOAT64
string                 STRING
boolean                BOOL
datetime               DATETIME (UTC wall-clock time)
binary (``bytes``)     BYTES
list of one of these   ARRAY<that type>
Optional[one of them]  that type (``None`` -> NULL)
=====================  ==================
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flyteidl.core.types_pb2 import LiteralType, SimpleType

from agenthost import InvalidRequestError
from agenthost.literals import describe_type

if TYPE_CHECKING:
    from flyteidl.core.interface_pb2 import VariableMap

SCALAR_TYPES: dict[int, str] = {
    SimpleType.INTEGER: "INT64",
    SimpleType.FLOAT: "FLOAT64",
    SimpleType.STRING: "STRING",
    SimpleType.BOOLEAN: "BOOL",
    SimpleType.DATETIME: "DATETIME",
    SimpleType.BINARY: "BYTES",
}


def bigquery_type(literal_type: LiteralType) -> tuple[str, str | None]:
    """Return ``(type, array element type)`` of a query parameter of ``literal_type``:
    ``("INT64", None)`` for a scalar, ``("ARRAY", "INT64")`` for a list. Raises ``ValueError``
    for types BigQuery parameters cannot hold."""
    literal_type = _unwrap_optional(literal_type)
    kind = literal_type.WhichOneof("type")
    if kind == "simple" and literal_type.simple in SCALAR_TYPES:
        return SCALAR_TYPES[literal_type.simple], None
    if kind == "collection_type":
        element = _unwrap_optional(literal_type.collection_type)
        if element.WhichOneof("type") == "simple" and element.simple in SCALAR_TYPES:
            return "ARRAY", SCALAR_TYPES[element.simple]
    raise ValueError(f"{describe_type(literal_type)} has no BigQuery query parameter type")


def _unwrap_optional(literal_type: LiteralType) -> LiteralType:
    """``Optional[T]`` (a union of T and none) -> T; anything else unchanged."""
    if literal_type.WhichOneof("type") != "union_type":
        return literal_type
    variants = [
        v
        for v in literal_type.union_type.variants
        if not (v.WhichOneof("type") == "simple" and v.simple == SimpleType.NONE)
    ]
    return variants[0] if len(variants) == 1 else literal_type


def _parameter_value(value: Any, bq_type: str) -> Any:
    if bq_type == "DATETIME" and isinstance(value, datetime.datetime) and value.tzinfo:
        return value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return value


def query_parameters(variables: VariableMap | None, values: Mapping[str, Any]) -> list[Any]:
    """Build ``google.cloud.bigquery`` ``ScalarQueryParameter``/``ArrayQueryParameter`` objects,
    one per input, typed by ``variables`` (the template's input interface).

    Raises ``InvalidRequestError`` naming the input whose type BigQuery cannot take.
    """
    from google.cloud import bigquery

    declared = variables.variables if variables is not None else {}
    parameters: list[Any] = []
    for name, value in values.items():
        if name not in declared:
            raise InvalidRequestError(f"input {name!r} is not declared in the task interface")
        try:
            bq_type, element_type = bigquery_type(declared[name].type)
        except ValueError as exc:
            raise InvalidRequestError(f"input {name!r}: {exc}") from None
        if element_type is not None:
            items = [_parameter_value(v, element_type) for v in (value or [])]
            parameters.append(bigquery.ArrayQueryParameter(name, element_type, items))
        else:
            parameters.append(
                bigquery.ScalarQueryParameter(name, bq_type, _parameter_value(value, bq_type))
            )
    return parameters
