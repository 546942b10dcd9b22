"""Helpers for the deployment tests: where the repository's deploy files are, and a throwaway
agent module a server imports (servers, ports and channels come from ``agenthost.testing``)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from agenthost.testing import pythonpath_env

REPO = Path(__file__).resolve().parents[2]
"""The repository root."""
CHART = REPO / "deploy" / "helm" / "agenthost"
"""The Helm chart."""


def agent_module(folder: Path, module: str, source: str) -> dict[str, str]:
    """Write ``source`` as ``folder/<module>.py``; return the environment with which
    ``agenthost serve --modules <module>`` imports it."""
    (folder / f"{module}.py").write_text(textwrap.dedent(source))
    return pythonpath_env(folder)
