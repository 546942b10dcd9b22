"""The v2 ceiling: a bare ``grpc.aio`` server with the benchmark agents' logic written directly
against flyteidl2's generated connector servicers (no host, no metrics, no validation).

Usage: ``python bare_server_v2.py --port N`` (0 picks a free port); ``--with-v1`` also serves
``bare_server.py``'s v1 services (ExecuteTaskSync stream-unary, as agenthost serves it) on the
same server (the ceiling of a host serving both protocols). Prints ``agenthost serving on
127.0.0.1:PORT`` once it accepts calls. ``BENCH_EVENT_LOOP=uvloop`` serves on uvloop, as for
``bare_server.py``; ``BENCH_CREATE_STREAM_UNARY=1`` serves CreateTask stream-unary, reading
the request with ``context.read()`` as agenthost does (what that way of serving costs alone).
"""

from __future__ import annotations

import argparse
import json
import os

import bare_server
import grpc
from flyteidl2.connector import connector_pb2, service_pb2_grpc
from flyteidl2.core import execution_pb2, literals_pb2
from flyteidl2.task import common_pb2

SUCCEEDED = execution_pb2.TaskExecution.SUCCEEDED
DONE = literals_pb2.Literal(
    scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value="done"))
)
CONNECTORS = [
    connector_pb2.Connector(
        name="BenchAsyncAgent",
        supported_task_categories=[connector_pb2.TaskCategory(name="bench_async", version=0)],
    ),
    connector_pb2.Connector(
        name="BenchSyncAgent",
        supported_task_categories=[connector_pb2.TaskCategory(name="bench_sync", version=0)],
    ),
]


class AsyncService(service_pb2_grpc.AsyncConnectorServiceServicer):
    async def CreateTask(self, request, context):
        return connector_pb2.CreateTaskResponse(
            resource_meta=json.dumps({"job_id": "job-1"}).encode()
        )

    async def GetTask(self, request, context):
        json.loads(request.resource_meta)
        outputs = common_pb2.Outputs(literals=[common_pb2.NamedLiteral(name="result", value=DONE)])
        resource = connector_pb2.Resource(phase=SUCCEEDED, outputs=outputs)
        return connector_pb2.GetTaskResponse(resource=resource)

    async def DeleteTask(self, request, context):
        json.loads(request.resource_meta)
        return connector_pb2.DeleteTaskResponse()


class MetadataService(service_pb2_grpc.ConnectorMetadataServiceServicer):
    async def ListConnectors(self, request, context):
        return connector_pb2.ListConnectorsResponse(connectors=CONNECTORS)


ASYNC_SERVICE = AsyncService()


async def create_stream_unary(request_iterator, context):
    request = connector_pb2.CreateTaskRequest.FromString(await context.read())
    return await ASYNC_SERVICE.CreateTask(request, context)


async def main(port: int, with_v1: bool) -> None:
    server = grpc.aio.server()
    if os.environ.get("BENCH_CREATE_STREAM_UNARY"):
        server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    "flyteidl2.connector.AsyncConnectorService",
                    {
                        "CreateTask": grpc.stream_unary_rpc_method_handler(
                            create_stream_unary,
                            response_serializer=connector_pb2.CreateTaskResponse.SerializeToString,
                        )
                    },
                ),
            )
        )
    service_pb2_grpc.add_AsyncConnectorServiceServicer_to_server(ASYNC_SERVICE, server)
    service_pb2_grpc.add_ConnectorMetadataServiceServicer_to_server(MetadataService(), server)
    if with_v1:
        bare_server.add_v1_services(server, stream_unary=True)
    await bare_server.serve(server, port)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--with-v1", action="store_true")
    args = parser.parse_args()
    bare_server.run(main(args.port, args.with_v1))
