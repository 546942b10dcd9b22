"""``agenthost.server.handlers`` in process: the method table, and generated servicers
registered through it instead of as grpc's registered methods."""

from __future__ import annotations

from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2_grpc

from agenthost.server.handlers import (
    MethodTable,
    generated_handlers,
    method_path,
    service_methods,
)


class _Details:
    """The ``HandlerCallDetails`` grpc hands a generic handler."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata = ()


def _handler() -> grpc.RpcMethodHandler:
    async def answer(request: bytes, context: Any) -> bytes:
        return request

    return grpc.unary_unary_rpc_method_handler(answer)


def test_the_table_answers_its_methods_and_nothing_else() -> None:
    first, second = _handler(), _handler()
    table = MethodTable(
        {**service_methods("pkg.A", {"Run": first}), **service_methods("pkg.B", {"Run": second})}
    )
    assert method_path("pkg.A", "Run") == "/pkg.A/Run"
    assert table.service(_Details("/pkg.A/Run")) is first
    assert table.service(_Details("/pkg.B/Run")) is second
    assert table.service(_Details("/pkg.A/Other")) is None
    assert table.service(_Details("/pkg.C/Run")) is None


def test_a_generated_servicer_becomes_one_table_without_registered_methods() -> None:
    registered: list[str] = []

    class Server:
        """Fails the test if the generated code's registration reached a real server."""

        def add_generic_rpc_handlers(self, handlers: Any) -> None:
            raise AssertionError("generated_handlers must not touch the server")

        def add_registered_method_handlers(self, service: str, handlers: Any) -> None:
            registered.append(service)

    servicer = health.aio.HealthServicer()
    handlers = generated_handlers(health_pb2_grpc.add_HealthServicer_to_server, servicer)
    assert not registered
    assert len(handlers) == 1
    (table,) = handlers
    assert isinstance(table, MethodTable)
    check = table.service(_Details("/grpc.health.v1.Health/Check"))
    watch = table.service(_Details("/grpc.health.v1.Health/Watch"))
    assert check is not None and check.unary_unary.__self__ is servicer
    assert watch is not None and watch.response_streaming
    assert table.service(_Details("/grpc.health.v1.Health/Nope")) is None


def test_code_generated_before_registered_methods_keeps_its_generic_handlers() -> None:
    generic = grpc.method_handlers_generic_handler("pkg.Old", {"Run": _handler()})

    def add_old_servicer_to_server(servicer: Any, server: Any) -> None:
        server.add_generic_rpc_handlers((generic,))

    assert generated_handlers(add_old_servicer_to_server, object()) == [generic]


def test_methods_a_servicer_leaves_as_generated_stubs_are_left_out() -> None:
    servicer = health.aio.HealthServicer()
    (table,) = generated_handlers(
        health_pb2_grpc.add_HealthServicer_to_server,
        servicer,
        stubs=health_pb2_grpc.HealthServicer,
    )
    assert isinstance(table, MethodTable)
    assert set(table.methods) == {
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",
    }

    class Listing(health.aio.HealthServicer):  # type: ignore[misc]
        async def List(self, request: Any, context: Any) -> Any:
            raise AssertionError("never called here")

    (everything,) = generated_handlers(
        health_pb2_grpc.add_HealthServicer_to_server,
        Listing(),
        stubs=health_pb2_grpc.HealthServicer,
    )
    assert "/grpc.health.v1.Health/List" in everything.methods
