"""Helpers for the deployment tests: where the repository's deploy files are, and starting
``agenthost serve`` processes from any environment (and stopping them again)."""

from __future__ import annotations

import contextlib
import os
import socket
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from agenthost.testing import ServerProcess, start_server

REPO = Path(__file__).resolve().parents[2]
"""The repository root."""
CHART = REPO / "deploy" / "helm" / "agenthost"
"""The Helm chart."""


@contextlib.contextmanager
def serving(
    command: Sequence[str], env: Mapping[str, str] | None = None
) -> Iterator[ServerProcess]:
    """``agenthost.testing.start_server`` as a context manager that stops and reaps the
    process on exit."""
    server = start_server(command, env)
    try:
        yield server
    finally:
        server.stop()


def agent_module(folder: Path, module: str, source: str) -> dict[str, str]:
    """Write ``source`` as ``folder/<module>.py``; return the environment with which
    ``agenthost serve --modules <module>`` imports it."""
    (folder / f"{module}.py").write_text(textwrap.dedent(source))
    return {"PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
