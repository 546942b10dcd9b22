"""The reliability tests' pytest plugin: their fixtures and the summary table of the figures
they collect. Loaded once per run by ``pytest_plugins`` in ``host/tests/conftest.py`` and in
the long session's ``tests/reliability/conftest.py`` (one module, so one summary)."""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_kit import summary_lines


@pytest.fixture(scope="module")
def markers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory agents write marker files into (one per test module)."""
    return tmp_path_factory.mktemp("markers")


@pytest.fixture(scope="module")
def secrets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A secrets directory (``FLYTE_SECRETS_DEFAULT_DIR``) for the server."""
    return tmp_path_factory.mktemp("secrets")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the figures the reliability tests collected, if any."""
    lines = summary_lines()
    if lines:
        terminalreporter.section("agenthost reliability summary")
        for line in lines:
            terminalreporter.write_line(line)
