"""Fixtures for the server tests: a shared server with the test agents loaded and a marker
directory that test agents write to."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from server_test_kit import free_port, test_server

from agenthost.testing import RunningServer

if TYPE_CHECKING:
    from keepalive_probe import KeepaliveProbe


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


KEEPALIVE_TEST = "test_keepalive.py::test_client_pinging_every_10s_is_never_cut_off"
_PROBE = pytest.StashKey["KeepaliveProbe"]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the 70 s keepalive probe as soon as collection selected its test, so it runs
    beside the rest of the suite instead of after it."""
    if not any(item.nodeid.endswith(KEEPALIVE_TEST) for item in items):
        return
    from keepalive_probe import KeepaliveProbe

    probe = KeepaliveProbe(Path(tempfile.mkdtemp(prefix="agenthost-keepalive-")))
    probe.start()
    config.stash[_PROBE] = probe


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the keepalive probe's server."""
    probe = config.stash.get(_PROBE, None)
    if probe is not None:
        probe.stop()


@pytest.fixture
def keepalive_probe(request: pytest.FixtureRequest) -> KeepaliveProbe:
    """The keepalive probe started at the end of collection."""
    return request.config.stash[_PROBE]
