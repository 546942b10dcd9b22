"""Fixtures of the quick reliability tests, and the summary table of their figures."""

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
    """Print the figures the reliability tests collected (once, also when the long session's
    conftest in ``tests/reliability`` is loaded too)."""
    import reliability_kit

    if getattr(reliability_kit, "summary_printed", False):
        return
    reliability_kit.summary_printed = True  # type: ignore[attr-defined]
    lines = summary_lines()
    if lines:
        terminalreporter.section("agenthost reliability summary")
        for line in lines:
            terminalreporter.write_line(line)
