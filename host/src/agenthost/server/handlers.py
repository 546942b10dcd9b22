"""How the server's services reach ``grpc.aio``: one table of every method, registered as a
generic handler, never as grpc's "registered methods".

``grpc.aio``'s server loop keeps one pending request per registered method, plus one for every
generic method, and for each call it accepts it waits on all of them (``asyncio.wait`` in
``_server_main_loop``), adding and removing a callback on each. So every registered method
costs every call of every other method: the health service's three (which the generated
``add_HealthServicer_to_server`` registers) made each agent call wait on four futures instead
of one (``bench/RESULTS.md``, "Registered methods"). A single table also answers any method
with one dictionary look-up, where grpc asks each generic handler in turn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import grpc


def method_path(service: str, method: str) -> str:
    """The path a call names: ``/package.Service/Method``."""
    return f"/{service}/{method}"


def service_methods(
    service: str, handlers: Mapping[str, grpc.RpcMethodHandler]
) -> dict[str, grpc.RpcMethodHandler]:
    """``handlers`` of one service (by method name) keyed by their method paths."""
    return {method_path(service, name): handler for name, handler in handlers.items()}


class MethodTable(grpc.GenericRpcHandler):  # type: ignore[misc]
    """A generic handler answering every method in ``methods`` (keyed by method path) with
    one look-up; None for any other, so the handlers after it are asked."""

    def __init__(self, methods: Mapping[str, grpc.RpcMethodHandler]) -> None:
        self.methods = dict(methods)
        self._get = self.methods.get

    def service(self, handler_call_details: Any) -> grpc.RpcMethodHandler | None:
        """The handler of the called method, or None."""
        return self._get(handler_call_details.method)


class _Collector:
    """Stands in for a server while a generated ``add_*Servicer_to_server`` runs, keeping what
    it registers instead."""

    def __init__(self) -> None:
        self.methods: dict[str, grpc.RpcMethodHandler] = {}
        self.generic: list[grpc.GenericRpcHandler] = []

    def add_generic_rpc_handlers(self, handlers: Iterable[grpc.GenericRpcHandler]) -> None:
        self.generic.extend(handlers)

    def add_registered_method_handlers(
        self, service: str, handlers: Mapping[str, grpc.RpcMethodHandler]
    ) -> None:
        self.methods.update(service_methods(service, handlers))


def generated_handlers(
    add_to_server: Callable[[Any, Any], None], servicer: Any, stubs: type | None = None
) -> list[grpc.GenericRpcHandler]:
    """What the generated ``add_to_server(servicer, server)`` would register, as generic
    handlers only: one ``MethodTable`` of its methods. Code generated before grpcio 1.63
    registers generic handlers alone, which are returned as they are.

    ``stubs``: the generated servicer base class. A method ``servicer`` leaves as its stub is
    left out, so grpc answers it ``UNIMPLEMENTED`` as it does any unknown method. Served, the
    stub raises ``NotImplementedError``: grpc logs its traceback and sends the exception in the
    status details. grpcio's asyncio health servicer has no ``List``."""
    collector = _Collector()
    add_to_server(servicer, collector)
    if not collector.methods:
        return collector.generic
    methods = collector.methods
    if stubs is not None:
        methods = {
            path: handler
            for path, handler in methods.items()
            if not _left_as_stub(servicer, stubs, path.rpartition("/")[2])
        }
    return [MethodTable(methods)]


def health_handlers(servicer: Any) -> list[grpc.GenericRpcHandler]:
    """The generic handlers of the gRPC health service ``servicer`` (``grpc.health.v1``):
    ``generated_handlers`` of its generated registration, without the methods grpcio's
    servicer leaves as stubs."""
    from grpc_health.v1 import health_pb2_grpc

    return generated_handlers(
        health_pb2_grpc.add_HealthServicer_to_server,
        servicer,
        stubs=health_pb2_grpc.HealthServicer,
    )


def _left_as_stub(servicer: Any, stubs: type, name: str) -> bool:
    stub = getattr(stubs, name, None)
    return stub is not None and getattr(type(servicer), name, None) is stub
