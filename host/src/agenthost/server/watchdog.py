"""Detect agent code that blocks the event loop (``time.sleep`` or blocking I/O inside an
``async def``) and name it in the log.

A task on the loop wakes every ``interval`` seconds; when it wakes ``threshold`` seconds or
more late it logs ``event loop blocked for X s (during <agent> <operation>)``. Who was running
is found by a daemon thread that, while the loop is late, looks once at the loop thread's stack
for the frame of an agent method (``call_sites``: the code of every agent method the host
calls, from ``agenthost.core.agents.AgentIndex.call_sites``). Agent calls pay nothing for this:
no per-call bookkeeping, only the two wake-ups per interval.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Mapping
from types import CodeType, FrameType

logger = logging.getLogger("agenthost.server")

DEFAULT_INTERVAL = 0.1
DEFAULT_THRESHOLD = 0.5


CallSites = Mapping[CodeType, Mapping[int, str]]
"""Code of an agent method to ``{id(agent): "<agent> <operation>"}``."""


def agent_call_in(frame: FrameType | None, sites: CallSites) -> str | None:
    """``<agent> <operation>`` of the innermost agent method on ``frame``'s stack. A method
    that several agents share (a base class's) is told apart by its ``self``."""
    while frame is not None:
        labels = sites.get(frame.f_code)
        if labels:
            if len(labels) == 1:
                return next(iter(labels.values()))
            try:
                owner = frame.f_locals.get("self")
            except Exception:  # a frame changing under us: give up on the name
                return None
            return labels.get(id(owner))
        frame = frame.f_back
    return None


class LoopWatchdog:
    """Log event-loop stalls of ``threshold`` seconds or more, naming the agent call found
    through ``call_sites`` (none given: stalls are logged without a name)."""

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        call_sites: CallSites | None = None,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self.threshold = threshold
        self.interval = interval
        self.stalls = 0
        self._beat = time.monotonic()
        self._culprit: str | None = None
        self._sampled = False
        self._stop = threading.Event()
        self._task: asyncio.Task[None] | None = None
        self._sites: CallSites = call_sites or {}
        self._loop_thread = threading.get_ident()

    def start(self) -> None:
        """Start watching the running loop (call from inside it)."""
        self._loop_thread = threading.get_ident()
        self._beat = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(self._tick())
        threading.Thread(target=self._sample, name="agenthost-loop-watchdog", daemon=True).start()

    def stop(self) -> None:
        """Stop watching."""
        self._stop.set()
        if self._task is not None:
            self._task.cancel()

    async def _tick(self) -> None:
        interval = self.interval
        while True:
            before = time.monotonic()
            self._beat = before
            await asyncio.sleep(interval)
            lag = time.monotonic() - before - interval
            if lag >= self.threshold:
                self.stalls += 1
                culprit, self._culprit, self._sampled = self._culprit, None, False
                logger.warning(
                    "event loop blocked for %.2f s (during %s)", lag, culprit or "unknown code"
                )

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            late = time.monotonic() - self._beat - self.interval
            if late < self.threshold / 2 or self._sampled:
                continue
            self._sampled = True
            frame = sys._current_frames().get(self._loop_thread)
            self._culprit = agent_call_in(frame, self._sites)
            del frame
