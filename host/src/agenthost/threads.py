"""Blocking agent code on the server's bounded thread pool, within the calling agent's share.

The dispatcher gives each agent a share of the pool (``--max-threads`` minus one; see
``agenthost.dispatch``). A blocking ``def`` agent method is counted against its agent's share
by the dispatcher itself; ``run_blocking`` does the same for blocking work that an ``async def``
agent method hands to a thread, such as a sensor's blocking ``poke``: while the dispatcher
awaits an agent's method, ``run_blocking`` counts against that agent's share.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

current_thread_slots: contextvars.ContextVar[asyncio.Semaphore | None] = contextvars.ContextVar(
    "agenthost_thread_slots", default=None
)
"""The thread share of the agent whose method the dispatcher is awaiting (None: unlimited)."""


async def run_blocking(call: Callable[[], T]) -> T:
    """Run blocking ``call`` in the loop's default executor (the server's bounded pool), with
    the caller's context (e.g. ``agenthost.current_connection()``), holding one thread of the
    calling agent's share until it really returns."""
    in_context = functools.partial(contextvars.copy_context().run, call)
    return await run_in_share(current_thread_slots.get(), in_context)


async def run_in_share(slots: asyncio.Semaphore | None, call: Callable[[], T]) -> T:
    """Run blocking ``call`` in the default executor, holding one of ``slots`` (an agent's
    thread share; None: unlimited) until it really returns."""
    if slots is None:
        return await asyncio.get_running_loop().run_in_executor(None, call)
    result: T = await in_thread_slot(slots, call)
    return result


async def in_thread_slot(slots: asyncio.Semaphore, call: Callable[[], Any]) -> Any:
    """Run blocking ``call`` in the default executor while holding one of ``slots`` until
    ``call`` really returns. If the caller is cancelled before the thread picked the call up,
    the call never runs and the slot is given back at once."""
    loop = asyncio.get_running_loop()
    await slots.acquire()
    lock = threading.Lock()
    state = {"started": False, "abandoned": False}

    def run() -> Any:
        with lock:
            if state["abandoned"]:
                return None
            state["started"] = True
        try:
            return call()
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is closed (shutdown)
                loop.call_soon_threadsafe(slots.release)

    try:
        return await loop.run_in_executor(None, run)
    except BaseException:
        with lock:
            if not state["started"]:
                state["abandoned"] = True
                slots.release()
        raise
