"""Fixtures for the ``run``, ``new`` and ``propeller-config`` tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from people_kit import MODULES, LiveProcess, people_env

from agenthost.testing import RunningServer, running_server


@pytest.fixture
def live() -> Iterator[Callable[..., LiveProcess]]:
    """Start ``agenthost`` subprocesses that are killed at the end of the test if still running."""
    started: list[LiveProcess] = []

    def start(*args: str) -> LiveProcess:
        proc = LiveProcess(*args)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()


@pytest.fixture(scope="module")
def people_server() -> Iterator[RunningServer]:
    """``agenthost serve`` with the test agents, shared by a module's tests."""
    with running_server(*MODULES, env={"PYTHONPATH": people_env()["PYTHONPATH"]}) as server:
        yield server
