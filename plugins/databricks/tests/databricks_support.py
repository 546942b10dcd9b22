"""Shared fixtures of the Databricks tests (this folder's ``conftest.py`` re-exports them; test
modules import ``TOKEN`` and ``server_env`` from there): the local Databricks fake
(``fake_databricks.py``) and a real ``agenthost serve`` with only this distribution's plugin
loaded, allowed to call the fake and nothing else."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_databricks import FakeDatabricks

from agenthost.testing import RunningServer, running_server

TOKEN = "dapi-host-token-0123456789"
"""The host's token (secret ``FLYTE_DATABRICKS_ACCESS_TOKEN``) in these tests."""


@pytest.fixture(scope="session")
def fake() -> Iterator[FakeDatabricks]:
    """The Databricks fake, accepting ``TOKEN``."""
    with FakeDatabricks({TOKEN}) as running:
        yield running


def server_env(fake: FakeDatabricks, **extra: str) -> dict[str, str]:
    """Environment of a server allowed to call the fake only, with the host token."""
    return {
        "DATABRICKS_INSTANCES": fake.base_url,
        "FLYTE_DATABRICKS_INSTANCE": fake.netloc,
        "_FSEC_FLYTE_DATABRICKS_ACCESS_TOKEN": TOKEN,
        **extra,
    }


@pytest.fixture(scope="session")
def server(fake: FakeDatabricks) -> Iterator[RunningServer]:
    """``agenthost serve --allow agent-databricks`` pointed at the fake."""
    with running_server("--allow", "agent-databricks", env=server_env(fake)) as running:
        yield running
