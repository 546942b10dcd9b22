"""The ceiling: a bare ``grpc.aio`` server with the benchmark agents' logic written directly
against flyteidl's generated servicer base classes (no host, no metrics, no validation).

Usage: ``python bare_server.py --port N`` (0 picks a free port); prints
``agenthost serving on 127.0.0.1:PORT`` once it accepts calls. ``--stream-unary`` serves
ExecuteTaskSync through a stream-unary handler (one response, sent with the status), as
agenthost does, instead of the generated bidirectional servicer. ``--max-pending N`` sets grpc's
``grpc.server.max_pending_requests`` and its hard limit (the bursts phase). With
``BENCH_EVENT_LOOP=uvloop`` in the environment it serves on uvloop (as agenthost does by
default) instead of asyncio's own loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
from collections.abc import Coroutine
from typing import Any

import grpc
from flyteidl.admin import agent_pb2
from flyteidl.core import execution_pb2
from flyteidl.service import agent_pb2_grpc

SUCCEEDED = execution_pb2.TaskExecution.SUCCEEDED
SYNC_SECONDS = float(os.environ.get("BENCH_SYNC_SECONDS", "0"))
"""Seconds ExecuteTaskSync waits before answering (the slow agent of the bursts phase)."""
AGENTS = [
    agent_pb2.Agent(
        name="BenchAsyncAgent",
        supported_task_types=["bench_async"],
        supported_task_categories=[agent_pb2.TaskCategory(name="bench_async", version=0)],
    ),
    agent_pb2.Agent(
        name="BenchSyncAgent",
        is_sync=True,
        supported_task_types=["bench_sync"],
        supported_task_categories=[agent_pb2.TaskCategory(name="bench_sync", version=0)],
    ),
]


class AsyncService(agent_pb2_grpc.AsyncAgentServiceServicer):
    async def CreateTask(self, request, context):
        return agent_pb2.CreateTaskResponse(resource_meta=json.dumps({"job_id": "job-1"}).encode())

    async def GetTask(self, request, context):
        json.loads(request.resource_meta)
        resource = agent_pb2.Resource(phase=SUCCEEDED)
        resource.outputs.literals["result"].scalar.primitive.string_value = "done"
        return agent_pb2.GetTaskResponse(resource=resource)

    async def DeleteTask(self, request, context):
        json.loads(request.resource_meta)
        return agent_pb2.DeleteTaskResponse()


class SyncService(agent_pb2_grpc.SyncAgentServiceServicer):
    async def ExecuteTaskSync(self, request_iterator, context):
        await request_iterator.__anext__()
        second = await request_iterator.__anext__()
        if SYNC_SECONDS:
            await asyncio.sleep(SYNC_SECONDS)
        resource = agent_pb2.Resource(phase=SUCCEEDED, outputs=second.inputs)
        yield agent_pb2.ExecuteTaskSyncResponse(
            header=agent_pb2.ExecuteTaskSyncResponseHeader(resource=resource)
        )


async def execute_stream_unary(request_iterator, context):
    await request_iterator.__anext__()
    second = await request_iterator.__anext__()
    if SYNC_SECONDS:
        await asyncio.sleep(SYNC_SECONDS)
    resource = agent_pb2.Resource(phase=SUCCEEDED, outputs=second.inputs)
    return agent_pb2.ExecuteTaskSyncResponse(
        header=agent_pb2.ExecuteTaskSyncResponseHeader(resource=resource)
    )


def stream_unary_sync_service() -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(
        "flyteidl.service.SyncAgentService",
        {
            "ExecuteTaskSync": grpc.stream_unary_rpc_method_handler(
                execute_stream_unary,
                request_deserializer=agent_pb2.ExecuteTaskSyncRequest.FromString,
                response_serializer=agent_pb2.ExecuteTaskSyncResponse.SerializeToString,
            )
        },
    )


class MetadataService(agent_pb2_grpc.AgentMetadataServiceServicer):
    async def ListAgents(self, request, context):
        return agent_pb2.ListAgentsResponse(agents=AGENTS)


def add_v1_services(server: grpc.aio.Server, stream_unary: bool) -> None:
    """The three v1 services with the benchmark agents' logic."""
    agent_pb2_grpc.add_AsyncAgentServiceServicer_to_server(AsyncService(), server)
    if stream_unary:
        server.add_generic_rpc_handlers((stream_unary_sync_service(),))
    else:
        agent_pb2_grpc.add_SyncAgentServiceServicer_to_server(SyncService(), server)
    agent_pb2_grpc.add_AgentMetadataServiceServicer_to_server(MetadataService(), server)


async def main(port: int, stream_unary: bool, max_pending: int | None = None) -> None:
    options = []
    if max_pending is not None:
        options = [
            ("grpc.server.max_pending_requests", max_pending),
            ("grpc.server.max_pending_requests_hard_limit", max_pending),
        ]
    server = grpc.aio.server(options=options)
    add_v1_services(server, stream_unary)
    await serve(server, port)


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on asyncio's loop, or on uvloop's if ``BENCH_EVENT_LOOP=uvloop``."""
    if os.environ.get("BENCH_EVENT_LOOP") == "uvloop":
        import uvloop

        uvloop.run(main)
    else:
        asyncio.run(main)


async def serve(server: grpc.aio.Server, port: int) -> None:
    """Listen on 127.0.0.1:``port``, announce it, and serve until SIGTERM or SIGINT."""
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print(f"agenthost serving on 127.0.0.1:{bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop(1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--stream-unary", action="store_true")
    parser.add_argument("--max-pending", type=int, help="grpc's pending-call limits (both)")
    args = parser.parse_args()
    run(main(args.port, args.stream_unary, args.max_pending))
