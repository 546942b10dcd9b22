"""Helpers for the server tests: start a server with the test agents, find free ports."""

from __future__ import annotations

import os
import socket
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from agenthost.testing import RunningServer, pythonpath_env, running_server
from agenthost.testing import free_port as free_port

HERE = Path(__file__).resolve().parent


def server_env(markers: Path, **extra: str) -> dict[str, str]:
    """Environment for a server that can import ``fake_plugins``."""
    return pythonpath_env(HERE, HERE.parent, AGENTHOST_TEST_MARKERS=str(markers), **extra)


def test_server(markers: Path, *args: str, **kwargs: Any) -> AbstractContextManager[RunningServer]:
    """``running_server`` with the test agents loaded."""
    env = server_env(markers, **kwargs.pop("env", {}))
    return running_server("--modules", "fake_plugins.basic", *args, env=env, **kwargs)


test_server.__test__ = False  # type: ignore[attr-defined]


def serve_on_taken_port(markers: Path, option: str, *args: str) -> tuple[int, Any]:
    """Run ``agenthost serve`` (test agents, ``args``) with ``option`` set to a port another
    socket listens on; the port and the finished ``subprocess.CompletedProcess``."""
    import subprocess

    from agenthost.testing import serve_command

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        result = subprocess.run(
            [*serve_command(option, str(port), *args), "--modules", "fake_plugins.basic"],
            env={**os.environ, **server_env(markers)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    return port, result
