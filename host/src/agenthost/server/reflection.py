"""gRPC server reflection (``grpc.reflection.v1alpha.ServerReflection``), loaded on first use.

``grpc_reflection`` and the descriptors it serves cost tens of milliseconds to import; a
generic handler that imports them when the first reflection call arrives keeps that off the
server's cold start.
"""

from __future__ import annotations

import contextlib
from typing import Any

import grpc

REFLECTION_SERVICE = "grpc.reflection.v1alpha.ServerReflection"
_PREFIX = f"/{REFLECTION_SERVICE}/"


class LazyReflection(grpc.GenericRpcHandler):  # type: ignore[misc]
    """Serves reflection for ``service_names`` (plus reflection itself), built on first use."""

    def __init__(self, service_names: tuple[str, ...]) -> None:
        self._names = (*service_names, REFLECTION_SERVICE)
        self._handler: grpc.GenericRpcHandler | None = None

    def service(self, handler_call_details: Any) -> grpc.RpcMethodHandler | None:
        """The reflection handler for reflection methods; None for anything else."""
        if not handler_call_details.method.startswith(_PREFIX):
            return None
        if self._handler is None:
            self._handler = self._build()
        return self._handler.service(handler_call_details)

    def _build(self) -> grpc.GenericRpcHandler:
        import flyteidl.service.agent_pb2  # noqa: F401  registers the flyteidl service descriptors
        from grpc_reflection.v1alpha import reflection, reflection_pb2

        if any(name.startswith("flyteidl2.") for name in self._names):
            # The v2 descriptors exist only if the flyteidl2 package is installed (agenthost
            # does not need it); without it reflection still lists the v2 services.
            with contextlib.suppress(ImportError):
                import flyteidl2.connector.service_pb2  # noqa: F401

        servicer = reflection.aio.ReflectionServicer(self._names)
        return grpc.method_handlers_generic_handler(
            REFLECTION_SERVICE,
            {
                "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                    servicer.ServerReflectionInfo,
                    request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
                    response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
                )
            },
        )
