"""Task inputs -> the parameters ``snowflake.connector`` binds into ``%(name)s`` placeholders.

The connector's own converter quotes and escapes each value (``paramstyle="pyformat"``, as
flytekit and flyte-sdk use it); this module only checks that every value is one the converter
knows: ``None``, ``bool``, ``int``, ``float``, ``Decimal``, ``str``, ``bytes``, ``datetime``,
``date``, ``time``, ``timedelta``, and lists of those (``IN %(ids)s``).
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Mapping
from typing import Any

from agenthost import InvalidRequestError

SCALAR_TYPES: tuple[type, ...] = (
    bool,
    int,
    float,
    decimal.Decimal,
    str,
    bytes,
    datetime.datetime,
    datetime.date,
    datetime.time,
    datetime.timedelta,
)


def query_parameters(values: Mapping[str, Any]) -> dict[str, Any] | None:
    """The inputs as a parameter dict, or None without inputs (then ``%`` in the SQL is left
    alone, as flytekit does). Raises ``InvalidRequestError`` naming an input of another kind."""
    if not values:
        return None
    for name, value in values.items():
        if not _bindable(value) and not (
            isinstance(value, list) and all(_bindable(item) for item in value)
        ):
            raise InvalidRequestError(
                f"input {name!r} is a {type(value).__name__}: a Snowflake query parameter must "
                "be a string, number, boolean, bytes, date/time, duration, or a list of those"
            )
    return dict(values)


def _bindable(value: Any) -> bool:
    return value is None or isinstance(value, SCALAR_TYPES)
