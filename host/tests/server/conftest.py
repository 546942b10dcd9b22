"""Fixtures for the server tests: a shared server with the test agents loaded and a marker
directory that test agents write to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from server_test_kit import free_port, test_server

from agenthost.testing import RunningServer


@pytest.fixture(scope="module")
def markers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory test agents write marker files into."""
    return tmp_path_factory.mktemp("markers")


@pytest.fixture(scope="module")
def metrics_port() -> int:
    """The metrics port of the shared server."""
    return free_port()


@pytest.fixture(scope="module")
def server(markers: Path, metrics_port: int) -> Iterator[RunningServer]:
    """One server with the test agents, shared by a module's tests."""
    with test_server(
        markers,
        "--metrics-port",
        str(metrics_port),
        env={"_FSEC_TEST_TOKEN": "hunter2-secret-value"},
    ) as running:
        yield running
