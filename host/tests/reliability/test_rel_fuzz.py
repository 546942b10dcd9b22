"""Fuzz every RPC of one real ``agenthost serve`` subprocess: structure-aware (hypothesis over
flyteidl messages) and raw (random, truncated, bit-flipped, oversized, deeply nested, invalid
UTF-8, pickles). Every answer must be a defined status with short, clean details; INTERNAL
only for agent faults; the server must stay up with bounded memory.

``AGENTHOST_FUZZ_EXAMPLES`` (hypothesis examples per strategy, default 150) and
``AGENTHOST_FUZZ_RAW`` (raw cases per method, default 90) scale it; ``AGENTHOST_FUZZ_RANDOM=1``
draws new examples each run instead of the fixed, derandomized ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from rel_fuzz_cases import (
    ASYNC,
    SYNC_METHOD,
    Outcome,
    RawClient,
    create_requests,
    meta_requests,
    metadata_requests,
    random_cases,
    special_cases,
    sync_streams,
)
from reliability_kit import record, rel_server, rss_bytes

from agenthost.testing import RunningServer, free_port

EXAMPLES = int(os.environ.get("AGENTHOST_FUZZ_EXAMPLES", "150"))
RAW_PER_METHOD = int(os.environ.get("AGENTHOST_FUZZ_RAW", "90"))
MAX_MESSAGE = 1024 * 1024
RSS_GROWTH_LIMIT = 64 * 1024 * 1024

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("AGENTHOST_FUZZ_RANDOM") != "1",
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

OUTCOME = Outcome()


@pytest.fixture(scope="module")
def server(markers: Path, secrets_dir: Path) -> Iterator[RunningServer]:
    """One server for the whole module, with a 1 MiB message limit."""
    args = ("--max-message-size", str(MAX_MESSAGE), "--metrics-port", str(free_port()))
    with rel_server(markers, *args, secrets_dir=secrets_dir) as running:
        running.start_rss = rss_bytes(running.process.pid)  # type: ignore[attr-defined]
        yield running
        assert running.process.poll() is None, "the server died while being fuzzed"


@pytest.fixture(scope="module")
def client(server: RunningServer) -> RawClient:
    """Raw-bytes client of the fuzzed server."""
    return RawClient(server.channel, OUTCOME)


@FUZZ
@given(payload=create_requests())
def test_fuzz_create_task(client: RawClient, payload: bytes) -> None:
    assert client.call(ASYNC + "CreateTask", payload) is None


@FUZZ
@given(case=meta_requests())
def test_fuzz_resource_meta_rpcs(client: RawClient, case: tuple[str, bytes]) -> None:
    assert client.call(*case) is None


@FUZZ
@given(stream=sync_streams())
def test_fuzz_execute_task_sync_streams(client: RawClient, stream: list[bytes]) -> None:
    assert client.call(SYNC_METHOD, stream) is None


@FUZZ
@given(case=metadata_requests)
def test_fuzz_metadata_rpcs(client: RawClient, case: tuple[str, bytes]) -> None:
    assert client.call(*case) is None


def test_hostile_payloads(client: RawClient, markers: Path) -> None:
    pickled = markers / "unpickled"
    problems = []
    for label, method, payload in special_cases(pickled, oversized=MAX_MESSAGE + 1024):
        problem = client.call(method, payload)
        if problem is not None:
            problems.append(f"{label}: {problem}")
    assert problems == []
    assert not pickled.exists(), "a pickle in a request was unpickled"


def test_random_and_truncated_bytes(client: RawClient) -> None:
    problems = [
        p
        for method, payload in random_cases(12, RAW_PER_METHOD)
        if (p := client.call(method, payload))
    ]
    assert problems == []


def test_server_survived_with_bounded_memory(server: RunningServer) -> None:
    """Runs last in the module: the server answers and its RSS grew by less than 64 MiB."""
    assert server.metadata_stub.ListAgents.__call__  # stub exists
    from flyteidl.admin import agent_pb2

    assert server.metadata_stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=10).agents
    start = server.start_rss  # type: ignore[attr-defined]
    end = rss_bytes(server.process.pid)
    record("fuzzing", "cases sent", OUTCOME.cases)
    for code, count in sorted(OUTCOME.codes.items()):
        record("fuzzing", f"answered {code}", count)
    record("fuzzing", "bad answers", len(OUTCOME.problems))
    record("fuzzing", "server RSS start MiB", round(start / 2**20, 1))
    record("fuzzing", "server RSS end MiB", round(end / 2**20, 1))
    assert OUTCOME.problems == []
    assert end - start < RSS_GROWTH_LIMIT, f"RSS grew from {start} to {end} bytes"
