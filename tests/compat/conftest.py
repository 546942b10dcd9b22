"""Fixtures of the flytekit compatibility suite (the ``compat`` nox session).

The emulators and fakes are the plugins' own test fixtures, imported from their support
modules (their test folders are on the root ``pyproject.toml``'s pytest ``pythonpath``):
``bigquery_support`` (the bqemulator BigQuery emulator, its venv built once and cached),
``openai_support`` (an OpenAI-compatible HTTP server in a thread), ``snowflake_support``
(fakesnow's server mode plus what it does not emulate, in a subprocess). The file sensor needs
only local paths. One ``agenthost serve`` with every first-party plugin (and the fake plugin
``fake_plugins.sized``) is shared by the session, its environment pointed at them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import fake_plugins
import pytest
from bigquery_support import bigquery_emulator, bq_client  # noqa: F401
from openai_support import fake_openai  # noqa: F401
from snowflake_support import fakesnow, key_pair  # noqa: F401

from agenthost.testing import RunningServer, running_server

OPENAI_TEST_KEY = "sk-compat-0123456789abcdef"
"""The API key the server's OpenAI agents send to the fake server."""

TEST_AGENTS_MODULE = "fake_plugins.sized"
"""The fake plugin with outputs of chosen sizes, loaded with ``--modules``."""


@pytest.fixture(scope="session")
def server_env(
    bigquery_emulator: Any,  # noqa: F811
    fake_openai: Any,  # noqa: F811
    fakesnow: Any,  # noqa: F811
    key_pair: Any,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, str]:
    """The environment a deployment would give agenthost, pointed at the local emulators."""
    return fake_plugins.env(
        BIGQUERY_EMULATOR_HOST=bigquery_emulator.endpoint,
        OPENAI_BASE_URL=fake_openai.base_url,
        _FSEC_FLYTE_OPENAI_API_KEY=OPENAI_TEST_KEY,
        FLYTE_SECRETS_DEFAULT_DIR=str(tmp_path_factory.mktemp("no-secrets")),
        AGENT_OPENAI_MAX_RETRIES="0",
        AGENT_OPENAI_TIMEOUT_SECONDS="20",
        **fakesnow.env,
        _FSEC_SNOWFLAKE_PRIVATE_KEY=key_pair.private_pem,
    )


def start_server(env: dict[str, str]) -> AbstractContextManager[RunningServer]:
    """``agenthost serve --strict`` with every installed plugin and the test agents."""
    return running_server("--strict", "--modules", TEST_AGENTS_MODULE, env=env)


@pytest.fixture(scope="session")
def server(server_env: dict[str, str]) -> Iterator[RunningServer]:
    """The session's ``agenthost serve`` (strict: every plugin must load)."""
    with start_server(server_env) as running:
        yield running


@pytest.fixture(scope="module")
def replica(server_env: dict[str, str]) -> Iterator[RunningServer]:
    """A second ``agenthost serve`` process with the same plugins and environment (another
    replica behind the same Service)."""
    with start_server(server_env) as running:
        yield running
