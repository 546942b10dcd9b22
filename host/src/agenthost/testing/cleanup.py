"""Servers the kit starts do not outlive the process that started them.

``start_server`` runs each server in a session of its own, so that stopping it reaches its
``--workers`` processes too; but that also shields it from what ends its parent: a test run
killed by ``timeout`` or a cancelled CI job would leave it serving. So each started server is
tracked until it is stopped, and the ones still tracked are stopped (SIGTERM to the process
group, SIGKILL after a few seconds) when the interpreter exits, and on SIGTERM or SIGHUP, after
which the signal's default action (the process dies) follows as before. The signal handlers are
installed only by a start in the main thread, and only over the default action.

A SIGKILLed parent runs no code at all, so on Linux a server started from the main thread also
asks the kernel for SIGTERM when its parent dies (``PR_SET_PDEATHSIG``, see
``exit_with_parent``), and drains and stops as on any SIGTERM. The kernel sends it when the
*thread* that started the server ends, which is why servers started from other threads (a pool
starting replicas at once) do without.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import Any

STOP_TIMEOUT = 5.0
"""Seconds a tracked server gets to stop on SIGTERM before SIGKILL, when its parent ends."""

_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
_tracked: dict[subprocess.Popen[Any], int] = {}
"""Started and not yet stopped servers, each with the pid of the process that started it."""
_handlers_installed = False


def signal_group(process: subprocess.Popen[Any], signum: int) -> None:
    """Send ``signum`` to ``process``'s whole process group if it leads one (as processes
    started with ``start_new_session=True`` do), else to ``process``; nothing if it is gone."""
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)


def track(process: subprocess.Popen[Any]) -> None:
    """Stop ``process`` when this process exits or is terminated, unless ``untrack``ed first."""
    _tracked[process] = os.getpid()
    _install_handlers()


def untrack(process: subprocess.Popen[Any]) -> None:
    """Forget ``process`` (it has been stopped)."""
    _tracked.pop(process, None)


def stop_tracked(timeout: float = STOP_TIMEOUT) -> None:
    """Stop every tracked process this process started: SIGTERM to each group, then SIGKILL to
    those still running after ``timeout`` seconds. Safe in a signal handler: it never blocks on
    a lock a ``Popen.wait`` in the interrupted code may hold."""
    me = os.getpid()
    # A forked child inherits the table but must not stop its parent's servers.
    processes = [p for p, starter in list(_tracked.items()) if starter == me]
    for process in processes:
        if process.poll() is None:
            signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(p.poll() is None for p in processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    for process in processes:
        if process.poll() is None:
            signal_group(process, signal.SIGKILL)
        untrack(process)


def exit_with_parent(command: Sequence[str]) -> list[str]:
    """``command``, started through a launcher that asks the kernel to send it SIGTERM when
    this process dies, however it dies (Linux, from the main thread; else ``command`` as it
    is: see the module docstring). The launcher is a bare interpreter (``-S``) that makes the
    request and execs ``command`` in its place, so the server keeps the pid ``Popen`` gave it,
    and nothing runs in a forked copy of this (threaded) process."""
    if threading.current_thread() is not threading.main_thread() or sys.platform != "linux":
        return list(command)
    return [sys.executable, "-S", "-c", _LAUNCHER, str(os.getpid()), *command]


_LAUNCHER = """\
import os, signal, sys
try:
    import ctypes
    ctypes.CDLL(None).prctl(ctypes.c_int(1), ctypes.c_ulong(signal.SIGTERM))  # PR_SET_PDEATHSIG
except (ImportError, OSError, AttributeError):
    pass  # no ctypes or no prctl: start the command without the request
else:
    if os.getppid() != int(sys.argv[1]):
        sys.exit("the process that started this one has exited")
os.execvp(sys.argv[2], sys.argv[2:])
"""


def _stop_then_die(signum: int, frame: FrameType | None) -> None:
    stop_tracked()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_handlers() -> None:
    global _handlers_installed
    if _handlers_installed or threading.current_thread() is not threading.main_thread():
        return
    _handlers_installed = True
    for signum in _SIGNALS:
        if signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, _stop_then_die)


atexit.register(stop_tracked)
