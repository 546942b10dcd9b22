"""Fixtures: the Snowflake fake and key pair (``snowflake_support``), and a real
``agenthost serve`` with only this plugin, pointed at the fake."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from snowflake_fake import FakeSnowflake, KeyPairFiles
from snowflake_support import fakesnow, key_pair  # noqa: F401

from agenthost.testing import RunningServer, running_server


@pytest.fixture(scope="session")
def agent_env(fakesnow: FakeSnowflake, key_pair: KeyPairFiles) -> dict[str, str]:  # noqa: F811
    """The environment of an agent that talks to the fake with the deployment's key."""
    return {**fakesnow.env, "_FSEC_SNOWFLAKE_PRIVATE_KEY": key_pair.private_pem}


@pytest.fixture(scope="module")
def server(agent_env: dict[str, str]) -> Iterator[RunningServer]:
    """``agenthost serve --allow snowflake`` with the fake's endpoint and the key."""
    with running_server("--allow", "snowflake", env=agent_env) as running:
        yield running
