"""The long ``reliability`` session: this folder's tests plus the quick ones in
``host/tests/reliability`` run at volume. Durations and volumes come from the environment
(defaults here are the session's): ``AGENTHOST_SOAK_SECONDS`` (600), ``AGENTHOST_FUZZ_EXAMPLES``
(2000 per strategy), ``AGENTHOST_FUZZ_RAW`` (1500 per method), ``AGENTHOST_FUZZ_RANDOM`` (1:
new examples every run). A summary table of every figure is printed at the end."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HOST_TESTS = Path(__file__).resolve().parents[2] / "host" / "tests"
for folder in (HOST_TESTS / "reliability", HOST_TESTS / "server"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

for name, value in {
    "AGENTHOST_SOAK_SECONDS": "600",
    "AGENTHOST_FUZZ_EXAMPLES": "2000",
    "AGENTHOST_FUZZ_RAW": "1500",
    "AGENTHOST_FUZZ_RANDOM": "1",
}.items():
    os.environ.setdefault(name, value)

from reliability_kit import summary_lines  # noqa: E402


@pytest.fixture(scope="module")
def markers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory agents write marker files into (one per test module)."""
    return tmp_path_factory.mktemp("markers")


@pytest.fixture(scope="module")
def secrets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A secrets directory (``FLYTE_SECRETS_DEFAULT_DIR``) for the server."""
    return tmp_path_factory.mktemp("secrets")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the figures every reliability test collected (once, whichever conftest runs
    first)."""
    import reliability_kit

    if getattr(reliability_kit, "summary_printed", False):
        return
    reliability_kit.summary_printed = True  # type: ignore[attr-defined]
    lines = summary_lines()
    if lines:
        terminalreporter.section("agenthost reliability summary")
        for line in lines:
            terminalreporter.write_line(line)
