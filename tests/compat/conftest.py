"""Fixtures of the flytekit compatibility suite (the ``compat`` nox session).

The emulators and fakes are the plugins' own test helpers, imported from their test folders:
``bq_emulator`` (the bqemulator BigQuery emulator, its venv built once and cached),
``fake_openai`` (an OpenAI-compatible HTTP server in a thread), ``snowflake_fake`` (fakesnow's
server mode plus what it does not emulate, in a subprocess). The file sensor needs only local
paths. One ``agenthost serve`` with every first-party plugin (and this folder's test agents,
``compat_agents``) is shared by the session, its environment pointed at them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PLUGIN_TEST_FOLDERS = [
    ROOT / "plugins" / "bigquery" / "tests",
    ROOT / "plugins" / "openai" / "tests",
    ROOT / "plugins" / "snowflake" / "tests",
]
for folder in PLUGIN_TEST_FOLDERS:
    if str(folder) not in sys.path:
        sys.path.append(str(folder))

from agenthost.testing import RunningServer, running_server  # noqa: E402

OPENAI_TEST_KEY = "sk-compat-0123456789abcdef"
"""The API key the server's OpenAI agents send to the fake server."""

TEST_AGENTS_MODULE = "compat_agents"
"""This folder's module of test agents (outputs of chosen sizes), loaded with ``--modules``."""


@pytest.fixture(scope="session")
def bigquery_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The bqemulator BigQuery emulator for the whole session."""
    from bq_emulator import EmulatorError, ensure_venv, running_emulator

    try:
        venv = ensure_venv()
        log_path = tmp_path_factory.mktemp("bqemulator") / "emulator.log"
        with running_emulator(venv, log_path) as emulator:
            yield emulator
    except EmulatorError as exc:
        pytest.fail(f"bqemulator: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def bq_client(bigquery_emulator: Any) -> Iterator[Any]:
    """A real BigQuery client on the emulator, to check results independently of the agent."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    client = bigquery.Client(
        project=bigquery_emulator.project,
        location="US",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": bigquery_emulator.endpoint},
    )
    yield client
    client.close()  # type: ignore[no-untyped-call]


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[Any]:
    """The plugin's fake OpenAI server, serving in a thread for the whole session."""
    from fake_openai import FakeOpenAI

    server = FakeOpenAI().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def fakesnow() -> Iterator[Any]:
    """The Snowflake plugin's fake (fakesnow's server mode) for the whole session."""
    from snowflake_fake import running_fakesnow

    with running_fakesnow() as fake:
        yield fake


@pytest.fixture(scope="session")
def snowflake_key_pem() -> str:
    """The deployment's Snowflake private key (PEM), as the secret ``snowflake_private_key``."""
    from snowflake_fake import make_key_pair

    return make_key_pair().private_pem


@pytest.fixture(scope="session")
def server_env(
    bigquery_emulator: Any,
    fake_openai: Any,
    fakesnow: Any,
    snowflake_key_pem: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, str]:
    """The environment a deployment would give agenthost, pointed at the local emulators."""
    python_path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH")) if p)
    return {
        "PYTHONPATH": python_path,
        "BIGQUERY_EMULATOR_HOST": bigquery_emulator.endpoint,
        "OPENAI_BASE_URL": fake_openai.base_url,
        "_FSEC_FLYTE_OPENAI_API_KEY": OPENAI_TEST_KEY,
        "FLYTE_SECRETS_DEFAULT_DIR": str(tmp_path_factory.mktemp("no-secrets")),
        "AGENT_OPENAI_MAX_RETRIES": "0",
        "AGENT_OPENAI_TIMEOUT_SECONDS": "20",
        **fakesnow.env,
        "_FSEC_SNOWFLAKE_PRIVATE_KEY": snowflake_key_pem,
    }


def start_server(env: dict[str, str]) -> Any:
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
