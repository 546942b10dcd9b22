"""The server's side listeners, each bound to its own port: ``/metrics`` (``--metrics-port``,
see ``metrics_http``) and the plaintext health listener (``--health-port``).

Both bind the gRPC server's ``--host`` unless their own option (``--metrics-host``,
``--health-host``) says otherwise. A port that cannot be bound is a start-up error: the reason
is printed naming the option and the port, and the caller exits non-zero.

The health listener is a second gRPC server that carries only ``grpc.health.v1`` (the same
servicer as the main port, so both report the same status, ``NOT_SERVING`` while draining) and
never TLS: kubelet's native gRPC probes cannot speak TLS, so with ``--tls-cert`` this is the port
they probe. It exposes no agent service and no reflection.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from agenthost.server.app import ServerConfig

logger = logging.getLogger("agenthost.server")


def refuse_port(option: str, port: int, address: str, reason: str) -> None:
    """Print why ``option``'s ``port`` at ``address`` cannot be listened on."""
    print(
        f"agenthost serve: cannot listen on {address} ({option} {port}): {reason}",
        file=sys.stderr,
        flush=True,
    )


async def start_metrics_listener(registry: Any, config: ServerConfig) -> Any:
    """Serve ``registry`` on ``--metrics-port`` from the running loop; None (after printing
    why) if the port cannot be bound."""
    from agenthost.server.metrics_http import MetricsListener

    listener = MetricsListener(registry)
    host = config.metrics_bind_host
    try:
        bound = await listener.start(host, config.metrics_port)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        refuse_port("--metrics-port", config.metrics_port, f"{host}:{config.metrics_port}", reason)
        return None
    logger.info("metrics on %s:%d", host, bound)
    return listener


def start_health_listener(health_servicer: Any, config: ServerConfig) -> Any:
    """A plaintext ``grpc.aio`` server with only ``health_servicer``, bound to
    ``--health-port`` (not started); None (after printing why) if the port cannot be bound."""
    import grpc
    from grpc_health.v1 import health_pb2_grpc

    options = [("grpc.so_reuseport", 1 if config.reuse_port else 0)]
    server = grpc.aio.server(options=options, maximum_concurrent_rpcs=None)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    address = f"{config.health_bind_host}:{config.health_port}"
    try:
        server.add_insecure_port(address)
    except RuntimeError as exc:
        refuse_port("--health-port", config.health_port, address, str(exc))
        return None
    logger.info("health (plaintext, grpc.health.v1 only) on %s", address)
    return server
