"""Servers the testing kit starts do not outlive the pytest that started them
(``agenthost.testing.cleanup``): a pytest run ended by SIGTERM or SIGHUP (``timeout``, a cancelled
CI job, a closed terminal) stops them, a SIGKILLed one too (the kernel tells them, on Linux), and
they stop their worker processes."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from agenthost.testing import wait_for

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")

HANGING_TEST = """
import threading
from pathlib import Path

from agenthost.testing import running_server


def test_hangs_with_a_server():
    with running_server("--workers", "2") as server:
        Path("server.pid").write_text(str(server.process.pid))
        threading.Event().wait()
"""


def _stat(pid: int) -> tuple[str, int] | None:
    """State and parent of process ``pid``, or None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def _alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def _children(pid: int) -> list[int]:
    """The live processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        stat = _stat(int(entry.name)) if entry.name.isdigit() else None
        if stat is not None and stat[1] == pid and stat[0] != "Z":
            found.append(int(entry.name))
    return found


def _default_action(signum: int) -> Callable[[], object] | None:
    """The child pytest's ``preexec_fn``: the signal's default action (SIGKILL has no other)."""
    if signum == signal.SIGKILL:
        return None
    return functools.partial(signal.signal, signum, signal.SIG_DFL)


@pytest.mark.parametrize(
    "signum",
    [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL],
    ids=["SIGTERM", "SIGHUP", "SIGKILL"],
)
def test_a_terminated_pytest_stops_its_servers(pytester: pytest.Pytester, signum: int) -> None:
    # The child starts with the signal's default action, as the kit expects: run under
    # ``nohup`` it would inherit SIGHUP ignored, which the kit leaves alone (and so would pytest).
    pytester.makepyfile(test_hanging=HANGING_TEST)
    run = pytester.popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=_default_action(signum),
    )
    pid_file = pytester.path / "server.pid"
    server, workers = 0, []
    try:
        wait_for(pid_file.exists, timeout=90)
        server = int(pid_file.read_text())
        wait_for(lambda: len(_children(server)) == 2, timeout=60)
        workers = _children(server)
        run.send_signal(signum)
        assert run.wait(timeout=30) == -signum  # the signal still ends pytest as before
        wait_for(lambda: not any(map(_alive, [server, *workers])), timeout=15)
    finally:
        for pid in [run.pid, server, *workers]:  # what a failure leaves behind
            if pid and _alive(pid):
                os.kill(pid, signal.SIGKILL)
        run.wait()
