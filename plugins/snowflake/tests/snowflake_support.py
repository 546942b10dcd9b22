"""Shared fixtures of the Snowflake tests (this folder's ``conftest.py`` and the repository's
compat suite import them from here): the fakesnow-based fake, the deployment's key pair, and
a real ``agenthost serve`` with only this plugin, pointed at the fake."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from snowflake_fake import FakeSnowflake, KeyPairFiles, make_key_pair, running_fakesnow

from agenthost.testing import RunningServer, running_server


@pytest.fixture(scope="session")
def fakesnow() -> Iterator[FakeSnowflake]:
    """fakesnow's server mode (plus scripted statuses, cancel and key checks) on 127.0.0.1."""
    with running_fakesnow() as fake:
        yield fake


@pytest.fixture(scope="session")
def key_pair() -> KeyPairFiles:
    """The key pair of the deployment (the host secret ``snowflake_private_key``)."""
    return make_key_pair()


@pytest.fixture(scope="session")
def agent_env(fakesnow: FakeSnowflake, key_pair: KeyPairFiles) -> dict[str, str]:
    """The environment of an agent that talks to the fake with the deployment's key."""
    return {**fakesnow.env, "_FSEC_SNOWFLAKE_PRIVATE_KEY": key_pair.private_pem}


@pytest.fixture(scope="module")
def server(agent_env: dict[str, str]) -> Iterator[RunningServer]:
    """``agenthost serve --allow snowflake`` with the fake's endpoint and the key."""
    with running_server("--allow", "snowflake", env=agent_env) as running:
        yield running
