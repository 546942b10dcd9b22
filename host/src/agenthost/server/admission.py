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

Clients (by address, port aside) share the reads: waiters are served one client at a time in
turn, and while a client waits, another keeps at most its share of the reads in progress for
longer than ``SHARE_PATIENCE`` (``Admission._share``), so a client that opens calls and sends
nothing cannot hold every read while others wait. The address is looked up only for calls that
wait and, by the timer, for reads under way while someone waits: an uncontended read costs
nothing more.
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
"""Seconds between checks for reads that outlived ``--read-timeout``, or their share."""

SHARE_PATIENCE = 1.0
"""Seconds a read in progress may go without its message, while it holds more than its
client's share of the reads and another client waits, before it is ended (``ReadEvictedError``).
Requests arrive on a local network in milliseconds; a client that opens calls and sends
nothing is one whose reads never do."""


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


class ReadEvictedError(Exception):
    """A read in progress was ended to let another client's calls read theirs: its client held
    more than its share of the reads, and its message had not arrived within
    ``SHARE_PATIENCE`` seconds. The request never reached an agent, so it is safe to retry."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what} did not arrive within {SHARE_PATIENCE:g} s while calls from other clients "
            "waited for request-bytes budget (--max-request-bytes); retry"
        )


class ByteBudget:
    """A byte semaphore (asyncio, one event loop). Callers hold plain byte counts and give
    them back with ``give_back``. Waiters queue by key (the client's address): one waiter of
    each key is served in turn, and a key's waiters in arrival order."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.available = capacity
        # Insertion order is the turn: a key that was served moves to the back.
        self._queues: dict[str, collections.deque[tuple[int, asyncio.Future[None]]]] = {}

    @property
    def in_use(self) -> int:
        """Bytes currently reserved."""
        return self.capacity - self.available

    @property
    def waiters(self) -> bool:
        """Whether anyone may be waiting (a reserve then queues rather than overtakes)."""
        return bool(self._queues)

    def waiting_keys(self) -> set[str]:
        """The keys with a caller still waiting."""
        return {
            key
            for key, queue in self._queues.items()
            if any(not future.done() for _, future in queue)
        }

    async def reserve(self, size: int, key: str = "") -> int:
        """Wait until ``size`` bytes (at most the capacity) are free, take them and return
        how many were taken. ``key``: whose turn this waiter takes (see the class)."""
        size = min(size, self.capacity)
        if not self._queues and self.available >= size:
            self.available -= size
            return size
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = collections.deque()
        queue.append((size, future))
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled():
                self.give_back(size)  # granted just as we were cancelled
            else:
                # The entry stays queued, done, until it reaches the front of its queue, where
                # ``_wake`` drops it: no search through a long queue.
                self._wake()
            raise
        return size

    def give_back(self, size: int) -> None:
        """Return ``size`` reserved bytes and wake the waiters they now fit."""
        self.available += size
        if self._queues:
            self._wake()

    def _wake(self) -> None:
        """Grant waiters in turn while the next one fits, dropping cancelled ones."""
        queues = self._queues
        while queues:
            key = next(iter(queues))
            queue = queues[key]
            size, future = queue[0]
            if future.done():  # its caller was cancelled while it waited
                queue.popleft()
                if not queue:
                    del queues[key]
                continue
            if size > self.available:
                return
            queue.popleft()
            del queues[key]
            if queue:
                queues[key] = queue
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
        self.slots = max(1, max_request_bytes // self.read_reservation)
        """Reads of unknown size that can be in progress at once."""
        # Each read under way: its deadline, when it took its reservation and its context (None
        # while a stream's later message waits for budget).
        self._reads: dict[asyncio.Task[Any], tuple[float, float, Any]] = {}
        # Reads the sweeper cancelled, and the error each ends with.
        self._expired: dict[asyncio.Task[Any], type[Exception]] = {}
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
        task = current_task()
        reads = self._reads
        if self._sweeper is None:
            self._start_sweeper()
        if holding:
            size = min(self.read_reservation, budget.capacity - holding)
            deadline = monotonic() + self.read_timeout
            reads[task] = (deadline, 0.0, None)  # type: ignore[index]
        else:
            size = self.read_reservation  # never more than the budget's capacity
        taken = 0
        try:
            if budget._queues or budget.available < size:
                taken = await self._wait_for(size, holding, context)
            else:
                budget.available -= size
                taken = size
            now = monotonic()
            if not holding:
                deadline = now + self.read_timeout
            reads[task] = (deadline, now, context)  # type: ignore[index]
            data = await context.read()
        except asyncio.CancelledError:
            budget.give_back(taken)
            ended = self._ended(task, what)  # type: ignore[arg-type]
            if ended is None:
                raise
            raise ended from None
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

    def _ended(self, task: asyncio.Task[Any], what: str) -> Exception | None:
        """The error a read cancelled by the sweeper ends with (its cancellation withdrawn);
        None if something else cancelled it."""
        error = self._expired.pop(task, None)
        if error is None:
            return None
        uncancel = getattr(task, "uncancel", None)  # Python 3.11+
        if uncancel is not None:
            uncancel()
        if error is ReadEvictedError:
            return ReadEvictedError(what)
        return ReadTimeoutError(what, self.read_timeout)

    async def _wait_for(self, size: int, holding: int, context: Any) -> int:
        """``budget.reserve(size)`` in the turn of the call's client, counted in
        ``reads_waiting`` while it waits (a stream's later message is already in ``_reads``,
        so it is counted out of ``reads_in_progress`` meanwhile)."""
        self._waiting += 1
        if holding:
            self._waiting_in_streams += 1
        try:
            return await self.budget.reserve(size, client_of(context))
        finally:
            self._waiting -= 1
            if holding:
                self._waiting_in_streams -= 1

    def _start_sweeper(self) -> None:
        self._sweeper = asyncio.ensure_future(self._sweep())

    async def _sweep(self) -> None:
        """Every ``SWEEP_INTERVAL`` seconds, end the reads that outlived the read timeout, and
        those over their client's share while another client waits (``_share``). One timer
        for every call, rather than one per read."""
        while True:
            await asyncio.sleep(min(SWEEP_INTERVAL, self.read_timeout))
            now = monotonic()
            for task, (deadline, _, _) in list(self._reads.items()):
                if deadline <= now and task not in self._expired:
                    self._expire(task, ReadTimeoutError)
            if self.budget.waiters:
                self._share(now)

    def _share(self, now: float) -> None:
        """While some client waits for budget, no other client keeps more than its share of
        the reads in progress (``slots`` over the clients reading or waiting) for longer than
        ``SHARE_PATIENCE``: its oldest reads beyond the share end with ``ReadEvictedError``,
        and their budget goes to the waiting clients in turn. So a client that opens calls
        and sends nothing delays another client's calls by about ``SHARE_PATIENCE``, not
        ``--read-timeout``; a client alone keeps every read however slow it is."""
        waiting = self.budget.waiting_keys()
        if not waiting:
            return
        reading: dict[str, list[tuple[float, asyncio.Task[Any]]]] = {}
        for task, (_, started, context) in self._reads.items():
            if context is not None and task not in self._expired:
                reading.setdefault(client_of(context), []).append((started, task))
        share = max(1, self.slots // len(waiting | reading.keys()))
        for client, reads in reading.items():
            if len(reads) <= share or not waiting - {client}:
                continue
            reads.sort(key=lambda read: read[0])
            for started, task in reads[: len(reads) - share]:
                if now - started >= SHARE_PATIENCE:
                    self._expire(task, ReadEvictedError)

    def _expire(self, task: asyncio.Task[Any], error: type[Exception]) -> None:
        """End ``task``'s read with ``error`` (``read`` raises it)."""
        self._expired[task] = error
        task.cancel()

    def close(self) -> None:
        """Stop the read-timeout timer."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None


def client_of(context: Any) -> str:
    """The address a call came from, without its port (``ipv4:10.0.0.7``); ``""`` if the
    context does not say."""
    try:
        peer = context.peer()
    except Exception:
        return ""
    return peer.rpartition(":")[0] if isinstance(peer, str) else ""
