"""What a server process needs around the server itself: the serving line, start-up errors,
the event loop, SIGTERM/SIGINT, ``--timeout``, the watch on a worker's supervisor, and the exit
that does not wait for a blocking agent call, or an agent coroutine that ignores its
cancellation, stuck past the grace period.

Shared by the single server (``agenthost.server.app.run``), each ``--workers`` worker
(``agenthost.server.worker``) and the supervisor (``agenthost.server.supervisor``)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import Coroutine
from typing import Any

from agenthost.server.event_loop import new_event_loop

logger = logging.getLogger("agenthost.server")

SERVING_PREFIX = "agenthost serving on"
"""Start of the line printed (and flushed) once the server accepts calls, followed by a space
and ``HOST:PORT`` (see ``announce_serving``)."""

AGENT_THREAD_PREFIX = "agenthost-agent"
"""Name prefix of the threads that run blocking agent methods."""

PARENT_POLL_INTERVAL = 1.0
"""Seconds between checks that a worker's supervisor is still alive."""

CANCEL_TIMEOUT = 5.0
"""Seconds the tasks still running when the server has stopped (after the grace period) get
to end once cancelled; agent code that swallows the cancellation is left behind."""

_abandoned_tasks = False
"""Set when tasks outlived ``CANCEL_TIMEOUT``: the process then exits at once."""


class StartupError(Exception):
    """The server cannot start; the message is one line naming what was wrong (a port, an
    option, a plugin), printed by ``report_error``."""


def report_error(message: str | BaseException) -> None:
    """Print a start-up problem the way ``agenthost serve`` reports them, on stderr."""
    print(f"agenthost serve: {message}", file=sys.stderr, flush=True)


def announce_serving(address: str) -> None:
    """Print (and flush) the serving line: ``agenthost serving on HOST:PORT``."""
    print(f"{SERVING_PREFIX} {address}", flush=True)


def run_process(main: Coroutine[Any, Any, int], event_loop: str = "auto") -> int:
    """Run the serving coroutine ``main`` (``run_loop``) and return its exit code; exit at once
    instead if a blocking agent call outlived the grace period (``exit_despite_stuck_agents``)."""
    code = run_loop(main, event_loop)
    exit_despite_stuck_agents(code)
    return code


def run_loop(main: Coroutine[Any, Any, int], event_loop: str = "auto") -> int:
    """Like ``asyncio.run``, on the loop ``--event-loop`` names
    (``agenthost.server.event_loop``), but without waiting for the default executor's threads
    at the end (a blocking agent call that outlived the grace period must not keep the process
    alive)."""
    loop = new_event_loop(event_loop)
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            # Bounded: an agent coroutine that catches CancelledError and carries on would
            # otherwise keep the process alive for ever after "stopped".
            _finish(loop, pending, "task(s)")
            _finish(loop, [loop.create_task(loop.shutdown_asyncgens())], "async generator(s)")
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _finish(loop: asyncio.AbstractEventLoop, tasks: list[asyncio.Task[Any]], what: str) -> None:
    """Run ``loop`` until ``tasks`` are done, for at most ``CANCEL_TIMEOUT`` seconds."""
    global _abandoned_tasks
    if not tasks:
        return
    done, stuck = loop.run_until_complete(asyncio.wait(tasks, timeout=CANCEL_TIMEOUT))
    for task in done:
        if not task.cancelled():
            task.exception()  # retrieved: ended with the server, nothing to report
    if stuck:
        _abandoned_tasks = True
        logger.warning(
            "%d %s still running %.0f s after being cancelled (agent code that ignores "
            "cancellation); exiting without them",
            len(stuck),
            what,
            CANCEL_TIMEOUT,
        )


def exit_despite_stuck_agents(code: int) -> None:
    """Exit now with ``code`` if a blocking agent method outlived the grace period (the
    interpreter would otherwise wait for its thread forever at exit), or if agent coroutines
    were left running (``run_loop``)."""
    threads = any(
        t.name.startswith(AGENT_THREAD_PREFIX) and t.is_alive() for t in threading.enumerate()
    )
    if not threads and not _abandoned_tasks:
        return
    if threads:
        logger.warning("blocking agent calls still running after the grace period; exiting")
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def stop_requested() -> asyncio.Event:
    """An event of the running loop that SIGTERM or SIGINT sets."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def wait_for_stop(
    stop: asyncio.Event, *, run_for: float | None = None, parent_pid: int | None = None
) -> None:
    """Wait until ``stop`` is set, ``run_for`` seconds have passed (``--timeout``), or the
    process's parent ``parent_pid`` (a worker's supervisor) is gone."""
    if run_for is not None:
        asyncio.get_running_loop().call_later(run_for, stop.set)
    watcher = None
    if parent_pid is not None:
        watcher = asyncio.create_task(watch_parent(parent_pid, stop))
    await stop.wait()
    if watcher is not None:
        watcher.cancel()


async def watch_parent(parent_pid: int, stop: asyncio.Event) -> None:
    """Set ``stop`` once this process's parent is no longer ``parent_pid``."""
    while os.getppid() == parent_pid:
        await asyncio.sleep(PARENT_POLL_INTERVAL)
    logger.warning("supervisor %d is gone; stopping", parent_pid)
    stop.set()
