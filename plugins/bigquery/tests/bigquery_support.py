"""Shared fixtures of the BigQuery tests (this folder's ``conftest.py`` and the repository's
compat suite import them from here): the bqemulator BigQuery emulator (session-wide, its venv
built once and cached) and a BigQuery client pointed at it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from bq_emulator import EmulatorError, RunningEmulator, ensure_venv, running_emulator


@pytest.fixture(scope="session")
def bigquery_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """A running emulator for the whole session (skipped if AGENTHOST_SKIP_BQEMULATOR=1)."""
    if os.environ.get("AGENTHOST_SKIP_BQEMULATOR") == "1":
        pytest.skip("AGENTHOST_SKIP_BQEMULATOR=1")
    started = time.monotonic()
    try:
        venv = ensure_venv()
    except EmulatorError as exc:
        pytest.fail(f"could not build the emulator venv: {exc}", pytrace=False)
    built_in = time.monotonic() - started
    log_path = tmp_path_factory.mktemp("bqemulator") / "emulator.log"
    try:
        with running_emulator(venv, log_path) as emulator:
            print(f"\nbqemulator venv ready in {built_in:.1f}s, serving on {emulator.endpoint}")
            yield emulator
    except EmulatorError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def bq_client(bigquery_emulator: RunningEmulator) -> Iterator[Any]:
    """A real ``google.cloud.bigquery.Client`` talking to the emulator (for test setup and
    for checking results independently of the agent)."""
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
