"""Admission of agent calls: the concurrent-call limit and the request-bytes budget.

``--max-concurrent-rpcs`` is enforced here, for agent calls only, rather than by grpc (whose
limit also counts health checks and metadata calls, so a saturated server would fail its
liveness probe). A call over the limit is refused with ``RESOURCE_EXHAUSTED`` naming the limit.

The request-bytes budget (``--max-request-bytes``) bounds the request bytes the server holds.
The services read each request message themselves (``context.read()``), only after reserving
``--max-message-size`` bytes of the budget for it; once read, the reservation shrinks to the
message's real size and is held until the call ends. A call that finds the budget spent waits
before reading, so its bytes stay in the client, held back by HTTP/2 flow control; at most
``budget // max_message_size`` reads of unknown size are in progress at once. A later message
of a stream reserves at most the budget minus what its call already holds (so a stream never
waits for itself), and its wait for budget counts towards the read timeout (so streams holding
budget cannot wait for each other for ever).

A read that has started must finish within ``--read-timeout`` seconds (a client that sends a
header and then nothing, or trickles a message, cannot hold a reservation for ever); one
periodic timer checks every read, so a read costs no timer of its own.
"""

from __future__ import annotations

import asyncio
import collections
from asyncio import current_task
from time import monotonic
from typing import Any

import grpc

from agenthost.server.limits import (
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_READ_TIMEOUT,
)

SWEEP_INTERVAL = 0.5
"""Seconds between checks for reads that outlived ``--read-timeout``."""


class ConcurrencyLimitError(Exception):
    """An agent call arrived while ``--max-concurrent-rpcs`` calls were in flight."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            f"agenthost is at its limit of {limit} concurrent agent calls "
            "(--max-concurrent-rpcs); retry later"
        )


class ReadTimeoutError(Exception):
    """A request message did not arrive within ``--read-timeout`` seconds."""

    def __init__(self, what: str, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(
            f"{what} did not arrive within {timeout:g} s (--read-timeout); send every request "
            "message without pausing"
        )


class ByteBudget:
    """A first-come first-served byte semaphore (asyncio, one event loop). Callers hold plain
    byte counts and give them back with ``give_back``."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.available = capacity
        self._waiters: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()

    @property
    def in_use(self) -> int:
        """Bytes currently reserved."""
        return self.capacity - self.available

    async def reserve(self, size: int) -> int:
        """Wait until ``size`` bytes (at most the capacity) are free, take them and return
        how many were taken. Waiters are served in arrival order."""
        size = min(size, self.capacity)
        if not self._waiters and self.available >= size:
            self.available -= size
            return size
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((size, future))
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled():
                self.give_back(size)  # granted just as we were cancelled
            else:
                # The entry stays queued, done, until it reaches the front, where ``_wake``
                # drops it (it may have already): no search through a long queue.
                self._wake()
            raise
        return size

    def give_back(self, size: int) -> None:
        """Return ``size`` reserved bytes and wake the waiters they now fit."""
        self.available += size
        if self._waiters:
            self._wake()

    def _wake(self) -> None:
        """Grant the waiters at the front that fit, in order, dropping cancelled ones."""
        waiters = self._waiters
        while waiters:
            size, future = waiters[0]
            if future.done():  # its caller was cancelled while it waited
                waiters.popleft()
                continue
            if size > self.available:
                return
            waiters.popleft()
            self.available -= size
            future.set_result(None)


class Admission:
    """The limits every agent call passes through (see the module docstring)."""

    def __init__(
        self,
        *,
        max_calls: int | None = None,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        self.max_calls = max_calls
        self.calls = 0
        self.budget = ByteBudget(max_request_bytes)
        self.read_reservation = min(max_message_bytes, max_request_bytes)
        self.read_timeout = read_timeout
        self._reads: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Future[None] | None = None
        self._waiting = 0
        self._waiting_in_streams = 0

    @property
    def reads_waiting(self) -> int:
        """Request reads waiting for budget before they start."""
        return self._waiting

    @property
    def reads_in_progress(self) -> int:
        """Request reads that hold their reservation and wait for their message to arrive."""
        return len(self._reads) - self._waiting_in_streams

    def enter(self) -> None:
        """Count one agent call in; ``ConcurrencyLimitError`` if that goes over the limit.
        Every call that entered leaves (``leave``), refused or not."""
        self.calls += 1
        if self.max_calls is not None and self.calls > self.max_calls:
            raise ConcurrencyLimitError(self.max_calls)

    def leave(self, held: int = 0, reads: list[int] | None = None) -> None:
        """Count one agent call out, giving back the request bytes it held: ``held`` and
        the sizes in ``reads``."""
        if reads:
            held += sum(reads)
        if held:
            self.budget.give_back(held)
        self.calls -= 1

    async def read(
        self, context: grpc.aio.ServicerContext, what: str, holding: int = 0
    ) -> tuple[bytes | None, int]:
        """The next request message of ``context`` (None at the end of the stream) and the
        bytes of the budget it holds: the caller gives them back (``budget.give_back``) when
        the call ends. Waits for budget before reading; ``ReadTimeoutError`` if the read
        takes longer than the read timeout.

        ``holding``: budget bytes the call already holds (earlier messages of its stream).
        Such a read reserves at most what the budget has beside them, so a stream alone
        never waits for itself, and its wait for budget counts towards the read timeout, so
        streams that hold budget while they wait for each other cannot wait for ever."""
        budget = self.budget
        size = min(self.read_reservation, budget.capacity - holding)
        task = current_task()
        reads = self._reads
        if holding:
            reads[task] = monotonic() + self.read_timeout  # type: ignore[index]
            self._start_sweeper()
        taken = 0
        try:
            if budget._waiters or budget.available < size:
                taken = await self._wait_for(size, holding)
            else:
                budget.available -= size
                taken = size
            if not holding:
                reads[task] = monotonic() + self.read_timeout  # type: ignore[index]
                self._start_sweeper()
            data = await context.read()
        except asyncio.CancelledError:
            budget.give_back(taken)
            if task not in self._expired:
                raise
            self._expired.discard(task)
            uncancel = getattr(task, "uncancel", None)  # Python 3.11+
            if uncancel is not None:
                uncancel()
            raise ReadTimeoutError(what, self.read_timeout) from None
        except BaseException:
            budget.give_back(taken)
            raise
        finally:
            reads.pop(task, None)  # type: ignore[arg-type]
        if data is grpc.aio.EOF:
            budget.give_back(taken)
            return None, 0
        length = len(data)
        if length < taken:
            budget.give_back(taken - length)
            taken = length
        return data, taken  # type: ignore[return-value]

    async def _wait_for(self, size: int, holding: int) -> int:
        """``budget.reserve(size)``, counted in ``reads_waiting`` while it waits (a stream's
        later message is already in ``_reads``, so it is counted out of ``reads_in_progress``
        meanwhile)."""
        self._waiting += 1
        if holding:
            self._waiting_in_streams += 1
        try:
            return await self.budget.reserve(size)
        finally:
            self._waiting -= 1
            if holding:
                self._waiting_in_streams -= 1

    def _start_sweeper(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.ensure_future(self._sweep())

    async def _sweep(self) -> None:
        """Cancel reads that outlived the read timeout (checked every ``SWEEP_INTERVAL``
        seconds, so a read ends at most that much after its timeout). One timer for every
        call, rather than one per read."""
        while True:
            await asyncio.sleep(min(SWEEP_INTERVAL, self.read_timeout))
            now = monotonic()
            for task, deadline in list(self._reads.items()):
                if deadline <= now and task not in self._expired:
                    self._expired.add(task)
                    task.cancel()

    def close(self) -> None:
        """Stop the read-timeout timer."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
