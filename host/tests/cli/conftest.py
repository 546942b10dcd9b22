"""Fixtures for the ``run``, ``new`` and ``propeller-config`` tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from cli_kit import CLI_ENV, MODULES, CliProcess

from agenthost.testing import RunningServer, running_server


@pytest.fixture
def live() -> Iterator[Callable[..., CliProcess]]:
    """Start ``agenthost`` subprocesses that are killed at the end of the test if still running."""
    started: list[CliProcess] = []

    def start(*args: str) -> CliProcess:
        proc = CliProcess(*args)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()


@pytest.fixture(scope="module")
def cli_server() -> Iterator[RunningServer]:
    """``agenthost serve`` with the test agents, shared by a module's tests."""
    with running_server(*MODULES, env=CLI_ENV) as server:
        yield server
