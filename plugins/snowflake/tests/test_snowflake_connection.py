"""Flyte 2 per-task credentials: the key pair in the call's ``connection`` wins over the host's,
reaches the agent's blocking methods in the host's thread pool, gets its own pooled connection,
and never lands in ``resource_meta``. In process, through agenthost's ``Dispatcher`` (the core
both protocols call), against fakesnow."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import pytest
from flyteidl.core.execution_pb2 import TaskExecution
from snowflake_fake import FakeSnowflake, KeyPairFiles, make_key_pair
from test_snowflake_server import template

from agent_snowflake.agent import SnowflakeAgent
from agenthost import Connection
from agenthost.dispatch import Dispatcher
from agenthost.testing import make_inputs


@pytest.fixture
def agent(
    fakesnow: FakeSnowflake, key_pair: KeyPairFiles, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SnowflakeAgent]:
    for name, value in {
        **fakesnow.env,
        "_FSEC_SNOWFLAKE_PRIVATE_KEY": key_pair.private_pem,
    }.items():
        monkeypatch.setenv(name, value)
    snowflake_agent = SnowflakeAgent()
    yield snowflake_agent
    snowflake_agent.aclose()


def run_task(agent: SnowflakeAgent, user: str, connection: Connection | None) -> bytes:
    """CreateTask then GetTask through the Dispatcher with ``connection``; the handle."""
    dispatcher = Dispatcher([agent])
    task = template(user=user)

    async def lifecycle() -> bytes:
        meta = await dispatcher.create(task, make_inputs(task, {"id": 1}), connection=connection)
        resource = await dispatcher.get("snowflake", None, meta, connection=connection)
        assert resource.phase == TaskExecution.SUCCEEDED, resource.message
        return meta

    return asyncio.run(lifecycle())


def test_the_connections_key_pair_is_used_and_pooled_apart(
    agent: SnowflakeAgent, fakesnow: FakeSnowflake
) -> None:
    user = f"tenant_{uuid.uuid4().hex[:8]}"
    tenant = make_key_pair(passphrase="tenant-passphrase")
    fakesnow.register_key(user, tenant.fingerprint)  # the host's key is refused for this user
    connection = Connection(
        secrets={
            "snowflake_private_key": tenant.private_pem,
            "snowflake_private_key_passphrase": "tenant-passphrase",
        }
    )
    meta = run_task(agent, user, connection)
    run_task(agent, user, connection)
    assert fakesnow.logins(user) == 1 and agent.connections.opened == 1
    assert "PRIVATE KEY" not in meta.decode() and "tenant-passphrase" not in meta.decode()
    assert set(json.loads(meta)) == {
        "user", "account", "database", "schema", "warehouse", "query_id", "has_output"
    }  # fmt: skip


def test_without_a_connection_the_hosts_key_is_used(
    agent: SnowflakeAgent, fakesnow: FakeSnowflake, key_pair: KeyPairFiles
) -> None:
    user = f"host_{uuid.uuid4().hex[:8]}"
    fakesnow.register_key(user, key_pair.fingerprint)
    run_task(agent, user, None)
    run_task(agent, user, Connection(secrets={"other_secret": "unrelated-value"}))
    assert fakesnow.logins(user) == 1


def test_a_rotated_key_opens_a_new_connection(
    agent: SnowflakeAgent, fakesnow: FakeSnowflake
) -> None:
    user = f"rotate_{uuid.uuid4().hex[:8]}"
    first, second = make_key_pair(), make_key_pair()
    run_task(agent, user, Connection(secrets={"snowflake_private_key": first.private_pem}))
    run_task(agent, user, Connection(secrets={"snowflake_private_key": second.private_pem}))
    assert fakesnow.logins(user) == 2 and len(agent.connections) == 2


def test_the_connections_key_is_never_unlocked_with_the_hosts_passphrase(
    agent: SnowflakeAgent, fakesnow: FakeSnowflake, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The deployment's key is encrypted; the task's own key, in its connection, is not: the
    # host's passphrase belongs to the host's key only.
    host = make_key_pair(passphrase="host-passphrase")
    monkeypatch.setenv("_FSEC_SNOWFLAKE_PRIVATE_KEY", host.private_pem)
    monkeypatch.setenv("_FSEC_SNOWFLAKE_PRIVATE_KEY_PASSPHRASE", "host-passphrase")
    user = f"own_key_{uuid.uuid4().hex[:8]}"
    tenant = make_key_pair()
    fakesnow.register_key(user, tenant.fingerprint)
    run_task(agent, user, Connection(secrets={"snowflake_private_key": tenant.private_pem}))
    assert fakesnow.logins(user) == 1
    # Nor does a passphrase in a connection without a key unlock the host's key.
    host_user = f"host_key_{uuid.uuid4().hex[:8]}"
    fakesnow.register_key(host_user, host.fingerprint)
    other = Connection(secrets={"snowflake_private_key_passphrase": "not-the-hosts"})
    run_task(agent, host_user, other)
    assert fakesnow.logins(host_user) == 1
