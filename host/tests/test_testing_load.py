"""``agenthost.testing.load``, in process: the driver's tally, percentiles and the v2 requests
converted from v1 ones. The reliability soak drives a real server with it."""

from __future__ import annotations

import asyncio
import math

import grpc
from flyteidl.core import literals_pb2, tasks_pb2

from agenthost.testing import make_inputs
from agenthost.testing.load import (
    create_request,
    drive,
    flytekit_template,
    get_request,
    percentile,
    v2_create_request,
    v2_get_request,
)


def _unavailable() -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), details="gone"
    )


def test_drive_times_completed_calls_and_counts_errors_by_code() -> None:
    async def answered() -> None:
        await asyncio.sleep(0)

    async def refused() -> None:
        raise _unavailable()

    async def broken() -> None:
        raise AssertionError("wrong answer")

    tally = asyncio.run(drive([[answered, refused], [broken]], seconds=0.05))

    assert tally.calls > 0
    assert len(tally.began_ns) == len(tally.latency_ns) == tally.calls
    assert all(took >= 0 for took in tally.latency_ns)
    # The first caller alternates its two calls, so they differ by at most one.
    assert abs(tally.calls - tally.errors["UNAVAILABLE"]) <= 1
    assert tally.errors["AssertionError"] > 0
    assert tally.error_count == tally.errors["UNAVAILABLE"] + tally.errors["AssertionError"]
    assert tally.error_samples == {
        "UNAVAILABLE refused": "gone",
        "AssertionError broken": "wrong answer",
    }


def test_drive_starts_no_call_after_its_deadline() -> None:
    async def slow() -> None:
        await asyncio.sleep(0.05)

    tally = asyncio.run(drive([[slow]] * 4, seconds=0.2))

    # Each caller starts a call at about 0, 0.05, 0.1 and 0.15 s, and none at 0.2 s.
    assert 0 < tally.calls <= 16
    deadline = min(tally.began_ns) + 0.2e9
    assert all(began < deadline for began in tally.began_ns)


def test_percentile_is_the_nearest_rank() -> None:
    assert percentile([10, 20, 30, 40, 50], 0.5) == 30
    assert percentile([10, 20, 30, 40, 50], 0.99) == 50
    assert percentile([7], 0.5) == 7
    assert math.isnan(percentile([], 0.5))


def test_v2_requests_carry_the_same_task_as_the_v1_ones() -> None:
    template = flytekit_template("bench_async", ["x", "y"], ["result"])
    inputs = make_inputs(template, {"x": "hello", "y": "world"})
    create = create_request(template, inputs, "s3://bucket/out")
    get = get_request("bench_async", b'{"job_id": "1"}', "s3://bucket/out")

    create2 = v2_create_request(create)
    get2 = v2_get_request(get)

    # flyteidl2's interface is a list of entries, wire-compatible with v1's map.
    assert tasks_pb2.TaskTemplate.FromString(create2.template.SerializeToString()) == template
    assert {
        named.name: literals_pb2.Literal.FromString(named.value.SerializeToString())
        for named in create2.inputs.literals
    } == dict(inputs.literals)
    assert create2.output_prefix == "s3://bucket/out"
    assert create2.HasField("connection")
    assert (get2.task_category.name, get2.task_category.version) == ("bench_async", 0)
    assert get2.resource_meta == b'{"job_id": "1"}'
    assert get2.output_prefix == "s3://bucket/out"
