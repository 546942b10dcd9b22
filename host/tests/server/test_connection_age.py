"""``--max-connection-age``: a connection past its age gets GOAWAY (the client reconnects),
while a call running on it finishes within ``--max-connection-age-grace``."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import grpc
from flyteidl.admin import agent_pb2
from server_test_kit import test_server

from agenthost.testing import make_template, wait_for


def test_aged_connection_is_replaced_and_its_call_finishes(markers: Path) -> None:
    with test_server(
        markers, "--max-connection-age", "1", "--max-connection-age-grace", "20"
    ) as server:
        states: list[grpc.ChannelConnectivity] = []
        lock = threading.Lock()

        def record(state: grpc.ChannelConnectivity) -> None:
            with lock:
                states.append(state)

        server.channel.subscribe(record, try_to_connect=True)
        slow = make_template("slow_async", custom={"seconds": 2.5, "tag": "aged"})
        reply = server.async_stub.CreateTask(agent_pb2.CreateTaskRequest(template=slow), timeout=20)
        assert json.loads(reply.resource_meta)["job_id"] == "aged"  # not cut by the GOAWAY

        def left_ready() -> bool:
            with lock:
                ready = [i for i, s in enumerate(states) if s == grpc.ChannelConnectivity.READY]
                return bool(ready) and any(
                    s != grpc.ChannelConnectivity.READY for s in states[ready[0] :]
                )

        wait_for(left_ready, timeout=20)  # the server ended the first connection
        server.channel.unsubscribe(record)
        listed = server.metadata_stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=10)
        assert listed.agents  # and the client simply reconnected
