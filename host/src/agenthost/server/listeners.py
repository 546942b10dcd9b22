"""The server's side listeners, each bound to its own port: ``/metrics`` (``--metrics-port``,
see ``metrics_http``) and the plaintext health listener (``--health-port``).

Both bind the gRPC server's ``--host`` unless their own option (``--metrics-host``,
``--health-host``) says otherwise. A port that cannot be bound is a start-up error
(``StartupError``, naming the option and the port): the server exits non-zero.

The health listener is a second gRPC server that carries only ``grpc.health.v1`` (the same
servicer as the main port, so both report the same status, ``NOT_SERVING`` while draining) and
never TLS: kubelet's native gRPC probes cannot speak TLS, so with ``--tls-cert`` this is the port
they probe. It exposes no agent service and no reflection.
"""

from __future__ import annotations

import logging
from typing import Any

from agenthost.server.config import ServerConfig
from agenthost.server.process import StartupError

logger = logging.getLogger("agenthost.server")


def port_refused(option: str, port: int, address: str, reason: str) -> StartupError:
    """The start-up error for ``option``'s ``port`` at ``address`` that cannot be listened on."""
    return StartupError(f"cannot listen on {address} ({option} {port}): {reason}")


async def start_metrics_listener(registry: Any, config: ServerConfig) -> Any:
    """Serve ``registry`` on ``--metrics-port`` from the running loop; raises
    ``StartupError`` if the port cannot be bound."""
    from agenthost.server.metrics_http import MetricsListener

    listener = MetricsListener(registry)
    host = config.metrics_bind_host
    try:
        bound = await listener.start(host, config.metrics_port)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        address = f"{host}:{config.metrics_port}"
        raise port_refused("--metrics-port", config.metrics_port, address, reason) from None
    logger.info("metrics on %s:%d", host, bound)
    return listener


def start_health_listener(health_servicer: Any, config: ServerConfig) -> Any:
    """A plaintext ``grpc.aio`` server with only ``health_servicer``, bound to
    ``--health-port`` (not started); raises ``StartupError`` if the port cannot be bound."""
    import grpc

    from agenthost.server.handlers import health_handlers

    # The main port's connection limits hold here too: without them a connection that never
    # completes its handshake stays open for grpc's default 120 s, and an idle one forever.
    options = [
        ("grpc.so_reuseport", 1 if config.reuse_port else 0),
        ("grpc.server_handshake_timeout_ms", int(config.handshake_timeout * 1000)),
    ]
    if config.max_connection_idle > 0:
        options.append(("grpc.max_connection_idle_ms", int(config.max_connection_idle * 1000)))
    server = grpc.aio.server(options=options, maximum_concurrent_rpcs=None)
    server.add_generic_rpc_handlers(health_handlers(health_servicer))
    address = f"{config.health_bind_host}:{config.health_port}"
    try:
        server.add_insecure_port(address)
    except RuntimeError as exc:
        raise port_refused("--health-port", config.health_port, address, str(exc)) from None
    logger.info("health (plaintext, grpc.health.v1 only) on %s", address)
    return server
