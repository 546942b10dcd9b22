"""The gRPC backends of a run: ``RemoteBackend`` calls a flyteidl v1 agent service (a running
``agenthost serve``, or any flytekit connector) as FlytePropeller does;
``RemoteConnectorBackend`` calls the flyteidl2 connector service as the Flyte 2 executor does."""

from __future__ import annotations

from typing import Any

import grpc
import grpc.aio
from flyteidl.admin import agent_pb2
from flyteidl.core import literals_pb2, tasks_pb2
from flyteidl.service import agent_pb2_grpc

from agenthost.run.backends import DEFAULT_OUTPUT_PREFIX, output_prefix_for, task_category
from agenthost.run.channels import open_aio_channel
from agenthost.run.lifecycle import RemoteCallError


class RemoteBackend:
    """Calls a flyteidl agent service over gRPC (``grpc.aio``): plaintext, or TLS with
    ``credentials`` (``agenthost.run.channels.client_credentials``)."""

    def __init__(
        self,
        address: str,
        credentials: grpc.ChannelCredentials | None = None,
        *,
        server_name: str | None = None,
        rpc_timeout: float = 60.0,
        output_prefix: str = DEFAULT_OUTPUT_PREFIX,
    ) -> None:
        self.address = address
        self.channel = open_aio_channel(address, credentials, server_name=server_name)
        self.async_stub = agent_pb2_grpc.AsyncAgentServiceStub(self.channel)
        self.sync_stub = agent_pb2_grpc.SyncAgentServiceStub(self.channel)
        self.metadata_stub = agent_pb2_grpc.AgentMetadataServiceStub(self.channel)
        self.rpc_timeout = rpc_timeout
        self.output_prefix = output_prefix

    def _prefix(self, template: tasks_pb2.TaskTemplate) -> str:
        return output_prefix_for(template, self.output_prefix)

    async def _call(self, operation: str, call: Any, request: Any) -> Any:
        try:
            return await call(request, timeout=self.rpc_timeout)
        except grpc.aio.AioRpcError as exc:
            raise RemoteCallError(operation, exc.code().name, exc.details() or "") from None

    async def is_sync(self, template: tasks_pb2.TaskTemplate) -> bool:
        """Asks ``ListAgents``; an agent service without it is assumed asynchronous."""
        try:
            listed = await self._call(
                "ListAgents", self.metadata_stub.ListAgents, agent_pb2.ListAgentsRequest()
            )
        except RemoteCallError as exc:
            if exc.code == "UNIMPLEMENTED":
                return False
            raise
        for agent in listed.agents:
            for category in agent.supported_task_categories:
                if (category.name, category.version) == (template.type, template.task_type_version):
                    return bool(agent.is_sync)
        for agent in listed.agents:
            if template.type in agent.supported_task_types:
                return bool(agent.is_sync)
        return False

    async def create(
        self, template: tasks_pb2.TaskTemplate, inputs: literals_pb2.LiteralMap
    ) -> bytes:
        """See ``Backend``."""
        request = agent_pb2.CreateTaskRequest(
            inputs=inputs, template=template, output_prefix=self._prefix(template)
        )
        response = await self._call("CreateTask", self.async_stub.CreateTask, request)
        return bytes(response.resource_meta)

    async def get(
        self, template: tasks_pb2.TaskTemplate, resource_meta: bytes
    ) -> agent_pb2.Resource:
        """See ``Backend``."""
        request = agent_pb2.GetTaskRequest(
            task_type=template.type,
            task_category=task_category(template),
            resource_meta=resource_meta,
            output_prefix=self._prefix(template),
        )
        response = await self._call("GetTask", self.async_stub.GetTask, request)
        return response.resource  # type: ignore[no-any-return]

    async def delete(self, template: tasks_pb2.TaskTemplate, resource_meta: bytes) -> None:
        """See ``Backend``."""
        request = agent_pb2.DeleteTaskRequest(
            task_type=template.type,
            task_category=task_category(template),
            resource_meta=resource_meta,
        )
        await self._call("DeleteTask", self.async_stub.DeleteTask, request)

    async def do(
        self, template: tasks_pb2.TaskTemplate, inputs: literals_pb2.LiteralMap
    ) -> agent_pb2.Resource:
        """Streams the header, then the inputs, as propeller does."""
        header = agent_pb2.ExecuteTaskSyncRequest(
            header=agent_pb2.CreateRequestHeader(
                template=template, output_prefix=self._prefix(template)
            )
        )
        body = agent_pb2.ExecuteTaskSyncRequest(inputs=inputs)

        async def requests() -> Any:
            yield header
            yield body

        try:
            call = self.sync_stub.ExecuteTaskSync(requests(), timeout=self.rpc_timeout)
            async for response in call:
                return response.header.resource  # type: ignore[no-any-return]
        except grpc.aio.AioRpcError as exc:
            raise RemoteCallError("ExecuteTaskSync", exc.code().name, exc.details() or "") from None
        raise RemoteCallError("ExecuteTaskSync", "UNKNOWN", "the server sent no response")

    async def close(self) -> None:
        """Close the channel."""
        await self.channel.close(None)


class RemoteConnectorBackend(RemoteBackend):
    """Calls a Flyte 2 connector service (``flyteidl2.connector.AsyncConnectorService``) over
    gRPC, as the Flyte 2 executor does: inputs as a NamedLiteral list, no sync service (a sync
    agent runs in ``CreateTask`` and ``GetTask`` returns its result)."""

    SERVICE = "/flyteidl2.connector.AsyncConnectorService/"

    def __init__(self, address: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(address, *args, **kwargs)
        from agenthost.protocols.v2 import wire

        self.wire = wire
        calls = {
            "CreateTask": agent_pb2.CreateTaskResponse,
            "GetTask": agent_pb2.GetTaskResponse,
            "DeleteTask": agent_pb2.DeleteTaskResponse,
        }
        # v2 responses parse as these v1 messages (the same fields on the wire).
        self.calls = {
            name: self.channel.unary_unary(
                self.SERVICE + name,
                request_serializer=_serialize,
                response_deserializer=response.FromString,
            )
            for name, response in calls.items()
        }

    async def is_sync(self, template: tasks_pb2.TaskTemplate) -> bool:
        """Always False: v2 runs sync agents through ``CreateTask``."""
        return False

    async def create(
        self, template: tasks_pb2.TaskTemplate, inputs: literals_pb2.LiteralMap
    ) -> bytes:
        """See ``Backend``."""
        request = self.wire.CreateTaskRequest(
            output_prefix=self._prefix(template), inputs=inputs.SerializeToString()
        )  # a LiteralMap's bytes are a NamedLiteral list (map entries on the wire)
        request.template.CopyFrom(template)
        response = await self._call("CreateTask", self.calls["CreateTask"], request)
        return bytes(response.resource_meta)

    async def get(
        self, template: tasks_pb2.TaskTemplate, resource_meta: bytes
    ) -> agent_pb2.Resource:
        """See ``Backend``."""
        request = self.wire.GetTaskRequest(
            resource_meta=resource_meta, output_prefix=self._prefix(template)
        )
        request.task_category.CopyFrom(task_category(template))
        response = await self._call("GetTask", self.calls["GetTask"], request)
        return response.resource  # type: ignore[no-any-return]

    async def delete(self, template: tasks_pb2.TaskTemplate, resource_meta: bytes) -> None:
        """See ``Backend``."""
        request = self.wire.DeleteTaskRequest(resource_meta=resource_meta)
        request.task_category.CopyFrom(task_category(template))
        await self._call("DeleteTask", self.calls["DeleteTask"], request)


def _serialize(message: Any) -> bytes:
    return bytes(message.SerializeToString())
