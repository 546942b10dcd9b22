"""The query handle ``create`` returns: the JSON flytekit's Snowflake connector writes and reads.

``{user, account, database, schema, warehouse, query_id, has_output}``, exactly, so flytekit's
connector can poll a query agenthost submitted and the other way round. flyte-sdk 2's connector
adds ``connection_kwargs``; handles it wrote are accepted when that is empty or null.
Every field is checked before any use (``checked``), the query id to be a UUID.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from agent_snowflake.template import ACCOUNT_PATTERN, MAX_NAME_CHARS, valid_name
from agenthost import ResourceMeta, ResourceMetaError

QUERY_ID_PATTERN = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
"""A Snowflake query id (``01b2c3d4-0000-1a2b-0000-0001a2b3c4d5``)."""

FLYTE_SDK_FIELD = b'"connection_kwargs"'


@dataclass
class SnowflakeMetadata(ResourceMeta):
    """Identifies one Snowflake query and the session settings it ran with."""

    user: str
    account: str
    database: str
    schema: str
    warehouse: str
    query_id: str
    has_output: bool

    @classmethod
    def decode(cls, data: bytes) -> SnowflakeMetadata:
        """Decode flytekit's or agenthost's handle, or flyte-sdk's without connection options;
        raises ``ResourceMetaError`` naming what is wrong."""
        if FLYTE_SDK_FIELD in data and len(data) <= cls.max_encoded_bytes:
            data = _without_connection_kwargs(data)
        return super().decode(data)

    def checked(self) -> str:
        """The ``query_id``, once the handle is checked as a template would be: the account
        is an account identifier (so no handle can send the host's key to another host), the
        names are short and printable, the query id is a Snowflake query id. Else
        ``ResourceMetaError`` naming the field (the handle came from a request)."""
        if not ACCOUNT_PATTERN.fullmatch(self.account):
            raise ResourceMetaError(
                "resource_meta field 'account' is not a Snowflake account identifier"
            )
        for name in ("user", "database", "schema", "warehouse"):
            if not valid_name(getattr(self, name)):
                raise ResourceMetaError(
                    f"resource_meta field {name!r} must be 1 to {MAX_NAME_CHARS} printable "
                    "characters"
                )
        if not QUERY_ID_PATTERN.fullmatch(self.query_id):
            raise ResourceMetaError(
                "resource_meta field 'query_id' is not a Snowflake query id (a UUID)"
            )
        return self.query_id


def _without_connection_kwargs(data: bytes) -> bytes:
    try:
        obj = json.loads(data)
    except ValueError:
        return data  # the base class reports it
    if isinstance(obj, dict) and "connection_kwargs" in obj:
        if obj.pop("connection_kwargs") not in (None, {}):
            raise ResourceMetaError(
                "resource_meta field 'connection_kwargs' is not supported: the agent's "
                "deployment decides how to connect to Snowflake"
            )
        return json.dumps(obj).encode()
    return data
