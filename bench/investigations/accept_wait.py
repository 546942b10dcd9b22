"""What grpc's registered methods cost every call a ``grpc.aio`` server accepts, in process and
without noise.

``grpc.aio``'s server loop (``_server_main_loop`` in grpcio's ``aio/server.pyx.pxi``) keeps one
pending request future per registered method plus one for all generic methods, and for every
call it accepts it runs ``asyncio.wait(pending, return_when=FIRST_COMPLETED)`` over all of them.
This replays that step: one future completes per iteration, while ``--registered`` others stay
pending, as a registered method nobody calls does (the health service's Check, Watch and List,
which the generated ``add_HealthServicer_to_server`` registers). Prints CPU µs per accepted
call on asyncio's loop and on uvloop. Run with the core venv: ``cd bench && python -m
investigations.accept_wait``. Supports ``RESULTS.md`` § "Registered methods"."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable, Coroutine
from typing import Any


async def per_accepted_call_us(registered: int, calls: int) -> float:
    """CPU µs per iteration of grpc.aio's accept step with ``registered`` idle futures."""
    loop = asyncio.get_running_loop()
    pending: dict[asyncio.Future[Any], None] = {
        loop.create_future(): None for _ in range(registered)
    }
    best = float("inf")
    for _ in range(5):
        began = time.thread_time()
        for _ in range(calls):
            arrived = loop.create_future()
            pending[arrived] = None
            loop.call_soon(arrived.set_result, None)
            done, _ = await asyncio.wait(pending.keys(), return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                pending.pop(future)
        best = min(best, (time.thread_time() - began) / calls * 1e6)
    for future in pending:
        future.cancel()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registered", default="0,3", help="idle registered methods to compare")
    parser.add_argument("--calls", type=int, default=100_000)
    args = parser.parse_args()
    runners: dict[str, Callable[[Coroutine[Any, Any, float]], float]] = {"asyncio": asyncio.run}
    try:
        import uvloop

        runners["uvloop"] = uvloop.run
    except ImportError:
        pass
    results = {
        loop: {
            f"{count} registered": round(run(per_accepted_call_us(count, args.calls)), 2)
            for count in map(int, args.registered.split(","))
        }
        for loop, run in runners.items()
    }
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
