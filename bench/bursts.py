"""Bursts (issue 25): ``COUNT`` calls at once on one connection from a ``grpc.aio`` client;
prints JSON ``{"codes": {...}, "lost": n, "p99_s": s, "seconds": s}`` (``lost``: every answer
other than OK). Run by ``run.py``'s bursts phase::

    python bursts.py ADDRESS create|get|sync COUNT
"""

from __future__ import annotations

import asyncio
import collections
import json
import sys
import time

import grpc
from loadgen import CREATE_REQUEST, GET_REQUEST, SYNC_HEADER, SYNC_INPUTS

PATHS = {
    "create": "/flyteidl.service.AsyncAgentService/CreateTask",
    "get": "/flyteidl.service.AsyncAgentService/GetTask",
    "sync": "/flyteidl.service.SyncAgentService/ExecuteTaskSync",
}
TIMEOUT = 300.0


async def burst(address: str, kind: str, count: int) -> dict[str, object]:
    """``count`` calls of ``kind`` at once; their outcome."""
    async with grpc.aio.insecure_channel(address) as channel:
        if kind == "sync":
            stream = channel.stream_stream(PATHS[kind])
            header, inputs = SYNC_HEADER.SerializeToString(), SYNC_INPUTS.SerializeToString()

            async def call() -> None:
                rpc = stream(timeout=TIMEOUT)
                await rpc.write(header)
                await rpc.write(inputs)
                await rpc.done_writing()
                await rpc.read()
                await rpc.code()

        else:
            unary = channel.unary_unary(PATHS[kind])
            payload = (CREATE_REQUEST if kind == "create" else GET_REQUEST).SerializeToString()

            async def call() -> None:
                await unary(payload, timeout=TIMEOUT)

        codes: collections.Counter[str] = collections.Counter()
        latencies: list[float] = []

        async def timed() -> None:
            began = time.perf_counter()
            try:
                await call()
                codes["OK"] += 1
            except grpc.RpcError as exc:
                codes[exc.code().name] += 1
            latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        await asyncio.gather(*(timed() for _ in range(count)))
        seconds = time.perf_counter() - began
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return {
        "codes": dict(codes),
        "lost": count - codes["OK"],
        "p99_s": round(p99, 3),
        "seconds": round(seconds, 3),
    }


if __name__ == "__main__":
    address, kind, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print(json.dumps(asyncio.run(burst(address, kind, count))))
