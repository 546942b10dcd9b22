"""In-process checks of the request-bytes budget (``agenthost.server.admission``); the
server-level behaviour is in ``test_hardening.py``."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from agenthost.server import admission as admission_module
from agenthost.server.admission import (
    Admission,
    ByteBudget,
    ConcurrencyLimitError,
    ReadEvictedError,
    ReadTimeoutError,
    client_of,
)


def test_waiters_are_served_in_arrival_order_and_cancellation_gives_bytes_back() -> None:
    async def scenario() -> list[str]:
        budget = ByteBudget(10)
        order: list[str] = []
        assert await budget.reserve(8) == 8

        async def take(name: str, size: int) -> None:
            await budget.reserve(size)
            order.append(name)

        big = asyncio.ensure_future(take("big", 6))
        small = asyncio.ensure_future(take("small", 1))  # fits now, but waits behind "big"
        cancelled = asyncio.ensure_future(take("cancelled", 5))
        await asyncio.sleep(0)
        assert order == []
        cancelled.cancel()
        budget.give_back(8)
        await asyncio.gather(big, small)
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert budget.in_use == 7
        assert await ByteBudget(10).reserve(100) == 10  # capped at the capacity
        return order

    assert asyncio.run(scenario()) == ["big", "small"]


def test_a_waiter_cancelled_as_its_bytes_free_up_ends_cancelled_and_takes_nothing() -> None:
    """The bytes that free up reach the waiter behind one whose caller was just cancelled
    (say, a client cancelling its calls), and the cancelled caller ends ``CancelledError``,
    never some other error."""

    async def scenario() -> None:
        budget = ByteBudget(10)
        await budget.reserve(10)
        first = asyncio.ensure_future(budget.reserve(10))
        second = asyncio.ensure_future(budget.reserve(10))
        await asyncio.sleep(0)
        first.cancel()  # its wait ends now; its task runs after the bytes below free up
        budget.give_back(10)
        with pytest.raises(asyncio.CancelledError):
            await first
        assert await second == 10
        assert budget.in_use == 10
        budget.give_back(10)
        assert await budget.reserve(4) == 4  # nothing stale left in the way

    asyncio.run(scenario())


def test_a_cancelled_waiter_at_the_front_lets_those_behind_it_through() -> None:
    async def scenario() -> None:
        budget = ByteBudget(10)
        await budget.reserve(6)
        big = asyncio.ensure_future(budget.reserve(8))
        small = asyncio.ensure_future(budget.reserve(2))  # fits, but waits behind "big"
        await asyncio.sleep(0)
        assert not small.done()
        big.cancel()
        assert await small == 2
        assert budget.in_use == 8

    asyncio.run(scenario())


class _Stalled:
    """A context whose read never completes."""

    async def read(self) -> object:
        await asyncio.Event().wait()
        return grpc.aio.EOF


def test_a_stalled_read_times_out_and_gives_its_bytes_back() -> None:
    async def scenario() -> None:
        admission = Admission(max_request_bytes=100, max_message_bytes=40, read_timeout=0.05)
        with pytest.raises(ReadTimeoutError, match=r"the inputs did not arrive within 0\.05 s"):
            await admission.read(_Stalled(), "the inputs")  # type: ignore[arg-type]
        assert admission.budget.in_use == 0
        admission.close()

    asyncio.run(scenario())


def test_the_call_limit_counts_agent_calls() -> None:
    admission = Admission(max_calls=2)
    admission.enter()
    admission.enter()
    with pytest.raises(ConcurrencyLimitError, match="limit of 2 concurrent agent calls"):
        admission.enter()
    admission.leave()  # the refused call leaves too
    with pytest.raises(ConcurrencyLimitError):
        admission.enter()
    admission.leave()
    admission.leave()
    admission.enter()


def test_leaving_gives_back_the_bytes_a_call_held() -> None:
    async def scenario() -> None:
        admission = Admission(max_request_bytes=100)
        admission.enter()
        for size in (30, 20, 10):
            assert await admission.budget.reserve(size) == size
        assert admission.budget.in_use == 60
        admission.leave(30, [20, 10])
        assert admission.budget.in_use == 0
        assert admission.calls == 0

    asyncio.run(scenario())


class _Message:
    """A context whose next read returns ``size`` bytes at once."""

    def __init__(self, size: int) -> None:
        self.size = size

    async def read(self) -> bytes:
        return b"x" * self.size


def test_a_stream_never_waits_for_the_budget_it_holds_itself() -> None:
    """Max message size = budget: the second message of a stream is read beside the first."""

    async def scenario() -> None:
        admission = Admission(max_request_bytes=100, max_message_bytes=100, read_timeout=5)
        _, first = await admission.read(_Message(10), "the header")  # type: ignore[arg-type]
        data, second = await asyncio.wait_for(
            admission.read(_Message(20), "the inputs", first),  # type: ignore[arg-type]
            timeout=1,
        )
        assert (len(data or b""), first, second, admission.budget.in_use) == (20, 10, 20, 30)
        admission.close()

    asyncio.run(scenario())


def test_streams_waiting_for_each_others_budget_time_out() -> None:
    """Two streams each hold most of the budget and wait for more: their waits count
    towards the read timeout, so they end and give their bytes back."""

    async def scenario() -> None:
        admission = Admission(max_request_bytes=100, max_message_bytes=50, read_timeout=0.2)
        holds = [(await admission.read(_Message(45), "the header"))[1] for _ in range(2)]  # type: ignore[arg-type]
        assert admission.budget.in_use == 90
        waits = [
            admission.read(_Message(1), "the inputs", held)  # type: ignore[arg-type]
            for held in holds
        ]
        results = await asyncio.wait_for(asyncio.gather(*waits, return_exceptions=True), 5)
        assert all(isinstance(r, ReadTimeoutError) for r in results), results
        assert admission.budget.in_use == 90  # the headers' bytes: given back when calls end
        admission.leave(sum(holds))
        assert admission.budget.in_use == 0
        admission.close()

    asyncio.run(scenario())


class _Gate:
    """A context whose reads wait until ``open`` and then return ``size`` bytes."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.open = asyncio.Event()

    async def read(self) -> bytes:
        await self.open.wait()
        return b"x" * self.size


def test_reads_in_progress_and_waiting_are_counted() -> None:
    """What the budget gauges export: reads that hold a reservation and wait for their
    message, and reads that wait for budget first (a stream's later message included)."""

    async def scenario() -> list[tuple[int, int, int]]:
        admission = Admission(max_request_bytes=120, max_message_bytes=40, read_timeout=5)
        seen = []

        def look() -> None:
            seen.append(
                (admission.reads_in_progress, admission.reads_waiting, admission.budget.in_use)
            )

        _, header = await admission.read(_Message(30), "the header")  # type: ignore[arg-type]
        gate = _Gate(10)
        reads = [
            asyncio.ensure_future(admission.read(gate, "the request"))  # type: ignore[arg-type]
            for _ in range(3)
        ]
        later = asyncio.ensure_future(
            admission.read(gate, "the inputs", header)  # type: ignore[arg-type]
        )
        await asyncio.sleep(0)
        look()  # 30 held + two reads of 40 in progress; one read and the stream's wait
        gate.open.set()
        await asyncio.gather(*reads, later)
        look()  # every read arrived: 30 + 4 x 10 held, nothing in progress or waiting
        admission.leave(30 + 4 * 10)
        look()
        admission.close()
        return seen

    assert asyncio.run(scenario()) == [(2, 2, 110), (0, 0, 70), (0, 0, 0)]


def test_waiters_of_different_keys_are_served_in_turn() -> None:
    """Bytes that free up go to each waiting client in turn, not to whoever queued most."""

    async def scenario() -> list[str]:
        budget = ByteBudget(10)
        order: list[str] = []
        await budget.reserve(10)

        async def take(name: str, key: str) -> None:
            await budget.reserve(10, key)
            order.append(name)

        waits = [asyncio.ensure_future(take(f"a{i}", "a")) for i in range(3)]
        waits += [asyncio.ensure_future(take(f"b{i}", "b")) for i in range(2)]
        await asyncio.sleep(0)
        for _ in range(5):
            budget.give_back(10)
            await asyncio.sleep(0)
        await asyncio.gather(*waits)
        return order

    assert asyncio.run(scenario()) == ["a0", "b0", "a1", "b1", "a2"]


class _Client:
    """A context of a call from ``address`` whose request never arrives (``send`` makes it
    arrive: ``size`` bytes)."""

    def __init__(self, address: str, size: int = 10) -> None:
        self.address = address
        self.size = size
        self.sent = asyncio.Event()

    def peer(self) -> str:
        return f"{self.address}:{40000 + id(self) % 1000}"

    async def read(self) -> bytes:
        await self.sent.wait()
        return b"x" * self.size


def test_a_client_over_its_share_gives_reads_up_to_a_waiting_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Four reads of budget, all taken by one client that sends nothing: once another client
    waits, the first keeps its share (two, one per client) and its oldest other reads end
    ``ReadEvictedError`` after ``SHARE_PATIENCE``; the waiting client's read then arrives."""
    monkeypatch.setattr(admission_module, "SWEEP_INTERVAL", 0.02)
    monkeypatch.setattr(admission_module, "SHARE_PATIENCE", 0.05)

    async def scenario() -> tuple[list[BaseException | None], bytes | None]:
        admission = Admission(max_request_bytes=40, max_message_bytes=10, read_timeout=30)
        stalled = [
            asyncio.ensure_future(admission.read(_Client("ipv4:10.0.0.1"), "the request"))  # type: ignore[arg-type]
            for _ in range(4)
        ]
        await asyncio.sleep(0)
        assert (admission.reads_in_progress, admission.reads_waiting) == (4, 0)
        honest = _Client("ipv4:10.0.0.2")
        honest.sent.set()
        data, _ = await asyncio.wait_for(admission.read(honest, "the request"), 5)  # type: ignore[arg-type]
        await asyncio.sleep(0)
        ended = [task.exception() for task in stalled if task.done()]
        assert admission.reads_in_progress == 2  # the first client's share
        for task in stalled:
            task.cancel()
        await asyncio.gather(*stalled, return_exceptions=True)
        admission.close()
        return ended, data

    ended, data = asyncio.run(scenario())
    assert data == b"x" * 10
    assert len(ended) == 2 and all(isinstance(e, ReadEvictedError) for e in ended), ended
    assert "did not arrive within 0.05 s while calls from other clients waited" in str(ended[0])


def test_a_client_alone_keeps_every_read_until_the_read_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No other client waits: the client's own queued calls do not end its slow reads."""
    monkeypatch.setattr(admission_module, "SWEEP_INTERVAL", 0.02)
    monkeypatch.setattr(admission_module, "SHARE_PATIENCE", 0.01)

    async def scenario() -> list[tuple[bytes | None, int] | BaseException]:
        admission = Admission(max_request_bytes=20, max_message_bytes=10, read_timeout=0.3)
        reads = [
            asyncio.ensure_future(admission.read(_Client("ipv4:10.0.0.1"), "the request"))  # type: ignore[arg-type]
            for _ in range(4)
        ]
        results = await asyncio.wait_for(asyncio.gather(*reads, return_exceptions=True), 5)
        admission.close()
        return results

    results = asyncio.run(scenario())
    assert all(isinstance(r, ReadTimeoutError) for r in results), results


def test_the_client_of_a_call_is_its_address_without_the_port() -> None:
    class Peer:
        def __init__(self, peer: str) -> None:
            self._peer = peer

        def peer(self) -> str:
            return self._peer

    assert client_of(Peer("ipv4:127.0.0.2:51234")) == "ipv4:127.0.0.2"
    assert client_of(Peer("ipv6:[::1]:51234")) == "ipv6:[::1]"
    assert client_of(object()) == ""
