"""The pieces on their own: templates of both SDKs, handles of both SDKs, status mapping,
parameters, settings and the connection pool (with a stand-in connect function)."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest
from flyteidl.core.execution_pb2 import TaskExecution
from flyteidl.core.tasks_pb2 import TaskTemplate
from google.protobuf import json_format

from agent_snowflake.clients import ConnectionKey, ConnectionPool, connection_parameters
from agent_snowflake.errors import SnowflakeConfigurationError
from agent_snowflake.metadata import SnowflakeMetadata
from agent_snowflake.parameters import query_parameters
from agent_snowflake.settings import Endpoint, KeyPair, endpoint, key_pair
from agent_snowflake.status import query_link, resource_for_status
from agent_snowflake.template import query_spec
from agenthost import InvalidRequestError
from agenthost.errors import ResourceMetaError
from agenthost.literals import StructuredDataset
from agenthost.testing import make_template

DATA = Path(__file__).with_name("data")
CUSTOM = {"account": "myorg-myaccount", "user": "flyte", "database": "DB", "warehouse": "WH"}
QUERY_ID = "01b2c3d4-0000-1a2b-0000-0001a2b3c4d5"
FLYTEKIT_META: dict[str, Any] = {
    "user": "flyte", "account": "myorg-myaccount", "database": "DB", "schema": "PUBLIC",
    "warehouse": "WH", "query_id": QUERY_ID, "has_output": True,
}  # fmt: skip


def template(custom: dict[str, Any], outputs: dict[str, Any] | None = None) -> TaskTemplate:
    return make_template("snowflake", custom=custom, outputs=outputs, sql="SELECT 1")


# -- templates --------------------------------------------------------------------------


def flyte_sdk_template() -> TaskTemplate:
    """flyte-sdk 2.12.1's serialized template (flyteidl2 JSON: variables are a list of
    entries) read into flyteidl's v1 ``TaskTemplate``, the shape the host hands the agent."""
    raw = json.loads((DATA / "flyte_sdk_2_12_1_task_template.json").read_text())
    for side in ("inputs", "outputs"):
        entries = raw["interface"][side]["variables"]
        raw["interface"][side]["variables"] = {e["key"]: e["value"] for e in entries}
    return json_format.ParseDict(raw, TaskTemplate(), ignore_unknown_fields=True)


def test_flyte_sdk_template_is_read_unchanged() -> None:
    spec = query_spec(flyte_sdk_template())
    assert (spec.account, spec.user, spec.database, spec.schema, spec.warehouse) == (
        "myorg-myaccount", "flyte", "DB", "PUBLIC", "WH"
    )  # fmt: skip
    assert spec.statement == "SELECT * FROM t WHERE id = %(id)s" and spec.has_output


def test_flytekit_template_is_read_from_config() -> None:
    """flytekit's SnowflakeTask writes the session settings into the template's config map."""
    task = make_template("snowflake", inputs={"id": int}, sql="SELECT %(id)s")
    task.config.update({**CUSTOM, "schema": "RAW"})
    spec = query_spec(task)
    assert (spec.account, spec.user, spec.database, spec.schema, spec.warehouse) == (
        "myorg-myaccount", "flyte", "DB", "RAW", "WH"
    )  # fmt: skip
    task.config["account"] = "evil.example/x"
    with pytest.raises(InvalidRequestError, match=r"config\.account"):
        query_spec(task)


def test_schema_defaults_to_public_and_no_output_is_fine() -> None:
    spec = query_spec(template(CUSTOM))
    assert spec.schema == "PUBLIC" and not spec.has_output


@pytest.mark.parametrize(
    ("custom", "named"),
    [
        ({**CUSTOM, "account": "evil.com/x?"}, "custom.account"),
        ({**CUSTOM, "account": "a" * 300}, "custom.account"),
        ({**CUSTOM, "user": 5}, "custom.user"),
        ({**CUSTOM, "warehouse": "WH\n"}, "custom.warehouse"),
        ({k: v for k, v in CUSTOM.items() if k != "database"}, "custom.database"),
        ({**CUSTOM, "connection_kwargs": {"host": "evil.example"}}, "custom.connection_kwargs"),
        ({**CUSTOM, "batch": True}, "custom.batch"),
    ],
)
def test_bad_template_fields_are_named(custom: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidRequestError, match=named.replace(".", r"\.")):
        query_spec(template(custom))


def test_outputs_other_than_a_results_dataset_are_refused() -> None:
    with pytest.raises(InvalidRequestError, match="'rows'"):
        query_spec(template(CUSTOM, {"rows": StructuredDataset}))
    with pytest.raises(InvalidRequestError, match="structured dataset"):
        query_spec(template(CUSTOM, {"results": int}))


def test_a_template_without_sql_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match=r"sql\.statement"):
        query_spec(make_template("snowflake", custom=CUSTOM))


# -- handles ----------------------------------------------------------------------------


def test_handle_is_flytekits_exactly() -> None:
    meta = SnowflakeMetadata(**FLYTEKIT_META)
    assert json.loads(meta.encode()) == FLYTEKIT_META
    assert SnowflakeMetadata.decode(json.dumps(FLYTEKIT_META).encode()) == meta


@pytest.mark.parametrize("kwargs", [{}, None])
def test_flyte_sdk_handles_without_connection_options_are_read(kwargs: Any) -> None:
    data = json.dumps({**FLYTEKIT_META, "connection_kwargs": kwargs}).encode()
    assert SnowflakeMetadata.decode(data) == SnowflakeMetadata(**FLYTEKIT_META)


def test_flyte_sdk_handles_with_connection_options_are_refused() -> None:
    data = json.dumps({**FLYTEKIT_META, "connection_kwargs": {"host": "x"}}).encode()
    with pytest.raises(ResourceMetaError, match="connection_kwargs"):
        SnowflakeMetadata.decode(data)


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("query_id", ""),
        ("query_id", "1'); DROP TABLE t; --"),
        ("query_id", QUERY_ID + "x"),
        ("query_id", "../../x"),
        ("account", "evil.example/x?"),
        ("account", "evil.example:443#"),
        ("warehouse", "WH\r\nX-Injected: 1"),
        ("user", ""),
    ],
)
def test_handles_are_checked_before_use(field: str, bad: str) -> None:
    meta = SnowflakeMetadata(**{**FLYTEKIT_META, field: bad})
    with pytest.raises(ResourceMetaError, match=f"'{field}'"):
        meta.checked()
    assert SnowflakeMetadata(**FLYTEKIT_META).checked() == QUERY_ID


# -- status -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "phase"),
    [
        ("QUEUED", TaskExecution.RUNNING),
        ("RUNNING", TaskExecution.RUNNING),
        ("RESUMING_WAREHOUSE", TaskExecution.RUNNING),
        ("NO_DATA", TaskExecution.RUNNING),
        ("SUCCESS", TaskExecution.SUCCEEDED),
        ("FAILED_WITH_ERROR", TaskExecution.FAILED),
        ("ABORTED", TaskExecution.FAILED),
        ("FAILED_WITH_INCIDENT", TaskExecution.FAILED),
    ],
)
def test_status_to_phase(status: str, phase: int) -> None:
    resource = resource_for_status(status, SnowflakeMetadata(**FLYTEKIT_META))
    assert resource.phase == phase
    assert resource.log_links and resource.log_links[0].uri.endswith(f"/{QUERY_ID}/detail")


def test_success_without_output_has_no_results() -> None:
    meta = SnowflakeMetadata(**{**FLYTEKIT_META, "has_output": False})
    assert resource_for_status("SUCCESS", meta).outputs is None


@pytest.mark.parametrize(
    ("account", "base"),
    [
        ("myorg-myaccount", "https://app.snowflake.com/myorg/myaccount/"),
        ("xy12345.us-east-2.aws", "https://app.snowflake.com/us-east-2.aws/xy12345/"),
        ("xy12345", "https://app.snowflake.com/xy12345/"),
    ],
)
def test_query_link(account: str, base: str) -> None:
    link = query_link(SnowflakeMetadata(**{**FLYTEKIT_META, "account": account}))
    assert link.uri == f"{base}#/compute/history/queries/{QUERY_ID}/detail"


# -- parameters and settings -------------------------------------------------------------


def test_parameters() -> None:
    assert query_parameters({}) is None
    values = {"n": 1, "when": datetime.datetime(2026, 1, 1), "ids": [1, 2], "s": None}
    assert query_parameters(values) == values
    with pytest.raises(InvalidRequestError, match="'table'"):
        query_parameters({"table": StructuredDataset(uri="s3://x")})


def test_endpoint_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SNOWFLAKE_HOST", raising=False)
    assert endpoint() is None
    monkeypatch.setenv("SNOWFLAKE_HOST", "127.0.0.1")
    monkeypatch.setenv("SNOWFLAKE_PORT", "8080")
    monkeypatch.setenv("SNOWFLAKE_PROTOCOL", "http")
    assert endpoint() == Endpoint("127.0.0.1", 8080, "http")
    monkeypatch.setenv("SNOWFLAKE_PORT", "eighty")
    with pytest.raises(SnowflakeConfigurationError, match="SNOWFLAKE_PORT"):
        endpoint()


def test_key_pair_from_host_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from snowflake_fake import make_key_pair

    monkeypatch.setenv("FLYTE_SECRETS_DEFAULT_DIR", str(tmp_path))
    monkeypatch.delenv("_FSEC_SNOWFLAKE_PRIVATE_KEY", raising=False)
    with pytest.raises(SnowflakeConfigurationError, match="snowflake_private_key"):
        key_pair()
    encrypted = make_key_pair(passphrase="s3cret")
    monkeypatch.setenv("_FSEC_SNOWFLAKE_PRIVATE_KEY", encrypted.private_pem)
    with pytest.raises(SnowflakeConfigurationError, match="passphrase"):
        key_pair().der()
    monkeypatch.setenv("_FSEC_SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", "s3cret")
    pair = key_pair()
    assert pair.der().startswith(b"0\x82")  # DER SEQUENCE
    assert "PRIVATE" not in repr(pair) and "s3cret" not in repr(pair)
    assert len(pair.fingerprint) == 16 and pair.fingerprint not in encrypted.private_pem


# -- the pool ---------------------------------------------------------------------------


class StandIn:
    """Records close(); stands in for a SnowflakeConnection in pool tests."""

    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_pool_reuses_per_key_and_closes_everything() -> None:
    opened: list[StandIn] = []

    def connect(key: ConnectionKey, pair: KeyPair) -> Any:
        opened.append(StandIn())
        return opened[-1]

    pool = ConnectionPool(connect, max_size=2)
    pair = KeyPair("pem", "", "f1")
    a = ConnectionKey("acct", "u", "f1", "DB", "PUBLIC", "WH")
    assert pool.get(a, pair) is pool.get(a, pair)
    assert pool.opened == 1
    other_key = ConnectionKey("acct", "u", "f2", "DB", "PUBLIC", "WH")
    other_warehouse = ConnectionKey("acct", "u", "f1", "DB", "PUBLIC", "WH2")
    pool.get(other_key, pair)
    pool.get(other_warehouse, pair)  # evicts the least recently used
    assert pool.opened == 3 and len(pool) == 2 and opened[0].closed
    pool.discard(other_key, pool.get(other_key, pair))  # the connection opened[1] stands for
    assert opened[1].closed and len(pool) == 1
    pool.close()
    assert all(c.closed for c in opened) and len(pool) == 0


def test_connection_parameters_never_take_a_host_from_the_task() -> None:
    key = ConnectionKey("myorg-acct", "u", "f", "DB", "PUBLIC", "WH")
    pair_pem = __import__("snowflake_fake").make_key_pair().private_pem
    params = connection_parameters(key, KeyPair(pair_pem, "", "f"), None, 8.0)
    assert "host" not in params and params["account"] == "myorg-acct"
    assert params["login_timeout"] == params["network_timeout"] == 8.0
    pinned = connection_parameters(
        key, KeyPair(pair_pem, "", "f"), Endpoint("proxy.internal", 443, "https"), 8.0
    )
    assert (pinned["host"], pinned["port"], pinned["protocol"]) == ("proxy.internal", 443, "https")


# -- the agent with a stand-in connection ------------------------------------------------


class Refusing:
    """A connection on which Snowflake refuses every status request for the query."""

    def get_query_status(self, query_id: str) -> Any:
        from snowflake.connector.errors import ProgrammingError

        raise ProgrammingError(msg="Query not found", errno=612, sfqid=query_id)

    def close(self) -> None:
        pass


def test_a_status_snowflake_refuses_is_a_failed_phase(monkeypatch: pytest.MonkeyPatch) -> None:
    from snowflake_fake import make_key_pair

    from agent_snowflake.agent import SnowflakeAgent

    monkeypatch.setenv("_FSEC_SNOWFLAKE_PRIVATE_KEY", make_key_pair().private_pem)

    def refusing(key: ConnectionKey, pair: KeyPair) -> Any:
        return Refusing()

    agent = SnowflakeAgent(ConnectionPool(refusing))
    resource = agent.get(SnowflakeMetadata(**FLYTEKIT_META))
    assert resource.phase == TaskExecution.FAILED
    assert resource.message and "Query not found" in resource.message
    assert QUERY_ID in resource.message
    assert resource.log_links and resource.log_links[0].name == "Snowflake Query Details"
