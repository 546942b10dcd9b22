"""Helpers for the ``run``, ``new`` and ``propeller-config`` tests: the test agents' ``--modules``
(``fake_plugins.cli_agents``), the environment in which a CLI subprocess imports them (for
``agenthost.testing.run_cli`` and ``running_server``), and a CLI process whose progress (stderr)
is read line by line as it comes."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from agenthost.testing import pythonpath_env

HOST_DIR = Path(__file__).resolve().parents[2]
"""The host distribution's folder."""
MODULES = ("--modules", "fake_plugins.cli_agents")
"""The CLI options that load the test agents."""
CLI_ENV = pythonpath_env(HOST_DIR / "tests", PYTHONUNBUFFERED="1")
"""Environment entries in which a CLI subprocess can import ``fake_plugins``."""


class CliProcess:
    """``python -m agenthost *args`` running, with its stderr read line by line as it comes
    (the progress) and its stdout collected (the outputs)."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "agenthost", *args],
            env={**os.environ, **CLI_ENV},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        self.stdout = ""
        self._out = threading.Thread(target=self._read_stdout, daemon=True)
        self._err = threading.Thread(target=self._read_stderr, daemon=True)
        self._out.start()
        self._err.start()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        self.stdout = self.process.stdout.read()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def wait_for_line(self, predicate: Callable[[str], bool], timeout: float = 60) -> str:
        """The first new stderr line for which ``predicate`` holds; fails on EOF or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no such line within {timeout} s:\n{self.err}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"the process ended without such a line:\n{self.err}")
            if predicate(line):
                return line

    def finish(self, timeout: float = 60) -> int:
        """Wait for the exit code, then for all output."""
        code = self.process.wait(timeout)
        self._out.join(10)
        self._err.join(10)
        return code

    @property
    def err(self) -> str:
        """stderr so far."""
        return "".join(self.stderr)

    def kill(self) -> None:
        """Make sure the process is gone."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
