"""Small helpers every kind of test needs: a free port, polling with a deadline, an environment
that makes extra modules importable in a subprocess, and the CLI run as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from agenthost.server.ports import free_port as free_port

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 30.0, interval: float = 0.05) -> T:
    """Poll ``predicate()`` until it returns something truthy; raise ``TimeoutError`` after
    ``timeout`` seconds. Returns the truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(interval)


def pythonpath_env(*folders: str | Path, **extra: str) -> dict[str, str]:
    """Environment entries (to add to a subprocess's environment, as ``running_server``,
    ``start_server`` and ``run_cli`` do) that put ``folders`` first on ``PYTHONPATH``, ahead of
    the current ``PYTHONPATH``, plus ``extra`` variables. This is how a server started with
    ``--modules fake_plugins.x`` imports test agents that are not installed."""
    path = os.pathsep.join([*map(str, folders), *filter(None, [os.environ.get("PYTHONPATH")])])
    return {"PYTHONPATH": path, **extra}


def run_cli(
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
    python: str = sys.executable,
    check: bool = False,
    cwd: str | Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m agenthost *args`` to completion (stdin closed, output captured as text)
    with ``env`` entries added to the current environment. ``python`` picks the interpreter
    (another venv's, to test an installation); ``check`` raises on a non-zero exit."""
    return subprocess.run(
        [python, "-m", "agenthost", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )
