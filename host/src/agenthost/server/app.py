"""Run the gRPC server: load plugins, serve the agent services with health and reflection,
expose metrics, and shut down gracefully on SIGTERM/SIGINT.

A watchdog (``agenthost.server.watchdog``) logs event-loop stalls of
``loop_block_threshold`` seconds or more, naming the agent call that caused them.

Shutdown (SIGTERM/SIGINT): the health status of every service flips to ``NOT_SERVING`` and,
``SHUTDOWN_SETTLE`` seconds later, gRPC's graceful shutdown starts: the listening socket closes
and every connection gets an HTTP/2 GOAWAY, so round-robin clients stop picking this replica
(streams opened after the GOAWAY are refused at the HTTP/2 level and retried transparently
elsewhere). Calls in flight get ``grace_period`` seconds to finish; then every agent's optional
``aclose()`` runs (see ``Dispatcher.aclose``) and the process exits 0. gRPC core cancels a
call that reaches it after its shutdown started but before the client read the GOAWAY; nothing
in grpcio sends a GOAWAY without that shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agenthost.server.limits import (
    DEFAULT_HANDSHAKE_TIMEOUT,
    DEFAULT_MAX_CONCURRENT_RPCS,
    DEFAULT_MAX_CONNECTION_IDLE,
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_MAX_PENDING_CALLS,
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_READ_TIMEOUT,
)
from agenthost.server.logs import configure_logging

if TYPE_CHECKING:
    from agenthost.dispatch import Dispatcher
    from agenthost.protocols.common import ServiceBase
    from agenthost.server.admission import Admission
    from agenthost.server.metrics import Metrics
    from agenthost.server.scrub import Scrubber

logger = logging.getLogger("agenthost.server")

SERVING_PREFIX = "agenthost serving on"
"""Start of the line printed (and flushed) once the server accepts calls."""

AGENT_THREAD_PREFIX = "agenthost-agent"
SHUTDOWN_SETTLE = 0.1
"""Seconds between SIGTERM and the start of gRPC's shutdown (see ``serve_async``)."""
DEFAULT_MAX_CONNECTION_AGE = 300.0
"""Seconds before a client connection gets GOAWAY: after a scale-out, clients that keep one
connection per address (``dns:///``, a ClusterIP Service) spread onto the new replicas within
minutes, for one reconnect per client every five minutes."""
DEFAULT_MAX_CONNECTION_AGE_GRACE = 300.0
"""Seconds calls on an aged connection get to finish: the longest deadline
``agenthost propeller-config`` gives propeller (``ExecuteTaskSync``), so no call is cut."""

PROTOCOLS = ("v1", "v2")
"""The protocols ``--protocols`` may name: v1 (flyteidl agent services, Flyte 1) and v2
(flyteidl2 connector services, Flyte 2)."""

MIN_CLIENT_PING_INTERVAL_MS = 5000
"""Clients may send keepalive pings this often (during calls and between them) without being
cut off with ``too_many_pings``; Flyte 2's executor pings every 30 s, some clients every 10 s.
grpc's default (5 min without data) cuts a quiet call after ~150 s of 30 s pings."""


@dataclass
class ServerConfig:
    """Everything ``agenthost serve`` can be told (see ``agenthost.cli_serve``)."""

    host: str = "[::]"
    port: int = 8000
    metrics_port: int = 9090
    metrics_host: str | None = None
    health_port: int = 0
    health_host: str | None = None
    allow: list[str] | None = None
    block: list[str] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    strict: bool = False
    max_concurrent_rpcs: int | None = DEFAULT_MAX_CONCURRENT_RPCS
    agent_concurrency: int | None = None
    max_threads: int | None = None
    max_message_size: int = DEFAULT_MAX_MESSAGE_BYTES
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    read_timeout: float = DEFAULT_READ_TIMEOUT
    handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT
    max_connection_idle: float = DEFAULT_MAX_CONNECTION_IDLE
    max_pending_calls: int = DEFAULT_MAX_PENDING_CALLS
    grace_period: float = 15.0
    max_connection_age: float = DEFAULT_MAX_CONNECTION_AGE
    max_connection_age_grace: float = DEFAULT_MAX_CONNECTION_AGE_GRACE
    run_for: float | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    log_level: str = "INFO"
    log_format: str = "text"
    workers: int = 1
    loop_block_threshold: float = 0.5
    reuse_port: bool = False
    worker_index: int | None = None
    protocols: tuple[str, ...] = PROTOCOLS
    metrics_dir: str | None = None
    """Set by the supervisor for its workers: where they record metrics (``metrics_shared``)."""

    @property
    def metrics_bind_host(self) -> str:
        """Where ``/metrics`` listens: ``metrics_host``, else the gRPC ``host``."""
        return self.metrics_host if self.metrics_host is not None else self.host

    @property
    def health_bind_host(self) -> str:
        """Where the plaintext health listener listens: ``health_host``, else ``host``."""
        return self.health_host if self.health_host is not None else self.host

    def validate(self) -> list[str]:
        """Problems with the configuration, one line each."""
        problems = []
        if (self.tls_cert is None) != (self.tls_key is None):
            problems.append("--tls-cert and --tls-key must be given together")
        if self.tls_client_ca is not None and self.tls_cert is None:
            problems.append("--tls-client-ca needs --tls-cert and --tls-key")
        for name in ("tls_cert", "tls_key", "tls_client_ca"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                problems.append(f"--{name.replace('_', '-')} {path}: no such file")
        unknown = [p for p in self.protocols if p not in PROTOCOLS]
        if unknown or not self.protocols:
            problems.append(
                f"--protocols must name one or more of {', '.join(PROTOCOLS)} "
                f"(got {','.join(self.protocols) or 'nothing'})"
            )
        if self.workers < 1:
            problems.append("--workers must be at least 1")
        for name in ("grace_period", "max_connection_age", "max_connection_age_grace"):
            if getattr(self, name) < 0:
                problems.append(f"--{name.replace('_', '-')} must not be negative")
        if self.run_for is not None and self.run_for <= 0:
            problems.append("--timeout must be positive")
        for name in ("read_timeout", "handshake_timeout"):
            if getattr(self, name) <= 0:
                problems.append(f"--{name.replace('_', '-')} must be positive")
        if self.max_connection_idle < 0:
            problems.append("--max-connection-idle must not be negative (0: never close)")
        if self.max_concurrent_rpcs is not None and self.max_concurrent_rpcs < 0:
            problems.append("--max-concurrent-rpcs must not be negative (0: no limit)")
        for name in (
            "agent_concurrency",
            "max_threads",
            "max_message_size",
            "max_request_bytes",
            "max_pending_calls",
        ):
            value = getattr(self, name)
            if value is not None and value < 1:
                problems.append(f"--{name.replace('_', '-')} must be at least 1")
        ports = {"--port": self.port, "--metrics-port": self.metrics_port}
        ports["--health-port"] = self.health_port
        for name, value in ports.items():
            if not 0 <= value <= 65535:
                problems.append(f"{name} {value} is not a port number (0-65535)")
        named = [(n, v) for n, v in ports.items() if v]
        for i, (name, value) in enumerate(named):
            for other, other_value in named[i + 1 :]:
                if value == other_value:
                    problems.append(f"{name} and {other} are both {value}")
        return problems


def run(config: ServerConfig) -> int:
    """Serve until SIGTERM/SIGINT; return the process exit code."""
    configure_logging(config.log_level, config.log_format)
    problems = config.validate()
    if problems:
        for problem in problems:
            print(f"agenthost serve: {problem}", file=sys.stderr, flush=True)
        return 2
    if config.workers > 1 and config.worker_index is None:
        from agenthost.server.workers import supervise

        return supervise(config)
    code = run_loop(serve_async(config))
    _exit_despite_stuck_agents(code)
    return code


def run_loop(main: Coroutine[Any, Any, int]) -> int:
    """Like ``asyncio.run``, but without waiting for the default executor's threads at the end
    (a blocking agent call that outlived the grace period must not keep the process alive)."""
    loop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _exit_despite_stuck_agents(code: int) -> None:
    """Exit now if a blocking agent method outlived the grace period: the interpreter would
    otherwise wait for its thread forever at exit."""
    import threading

    if any(t.name.startswith(AGENT_THREAD_PREFIX) and t.is_alive() for t in threading.enumerate()):
        logger.warning("blocking agent calls still running after the grace period; exiting")
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _load(config: ServerConfig):  # type: ignore[no-untyped-def]
    from agenthost.plugins import PluginLoadError, load_plugins

    try:
        return load_plugins(
            allow=config.allow, block=config.block, modules=config.modules, strict=config.strict
        )
    except PluginLoadError as exc:
        print(f"agenthost serve: {exc}", file=sys.stderr, flush=True)
        return None


def _credentials(config: ServerConfig):  # type: ignore[no-untyped-def]
    import grpc

    assert config.tls_cert is not None
    assert config.tls_key is not None
    key = Path(config.tls_key).read_bytes()
    cert = Path(config.tls_cert).read_bytes()
    client_ca = Path(config.tls_client_ca).read_bytes() if config.tls_client_ca else None
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def _banner(result, address: str, config: ServerConfig) -> None:  # type: ignore[no-untyped-def]
    print(f"{SERVING_PREFIX} {address}", flush=True)
    if config.worker_index not in (None, 0):
        return
    from agenthost.reporting import plugins_table

    print(plugins_table(result), flush=True)


def _metrics(config: ServerConfig):  # type: ignore[no-untyped-def]
    """The process's metrics recorder: shared files for a worker, in memory otherwise."""
    if config.metrics_dir is not None and config.worker_index is not None:
        from agenthost.server.metrics_shared import SharedMetrics

        return SharedMetrics(config.metrics_dir, config.worker_index)
    if config.metrics_port:
        from agenthost.server.metrics import Metrics

        return Metrics()
    return None


async def serve_async(config: ServerConfig, *, parent_pid: int | None = None) -> int:
    """Serve in the running loop until SIGTERM/SIGINT (or, for a worker, until its
    supervisor ``parent_pid`` is gone); return the exit code."""
    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    from agenthost.dispatch import Dispatcher
    from agenthost.server.admission import Admission
    from agenthost.server.limits import server_options
    from agenthost.server.reflection import LazyReflection
    from agenthost.server.scrub import Scrubber

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    result = _load(config)
    if result is None:
        return 1
    threads = config.max_threads or min(32, (os.cpu_count() or 1) + 4)
    executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=AGENT_THREAD_PREFIX)
    loop.set_default_executor(executor)

    metrics = _metrics(config)
    if metrics is not None:
        for report in result.failed:
            metrics.plugin_failed(report.name)

    dispatcher = Dispatcher(
        result.agents,
        agent_concurrency=config.agent_concurrency,
        agent_threads=max(1, threads - 1),
    )
    admission = Admission(
        max_calls=config.max_concurrent_rpcs or None,
        max_request_bytes=config.max_request_bytes,
        max_message_bytes=config.max_message_size,
        read_timeout=config.read_timeout,
    )
    adapters, service_names = _adapters(
        config.protocols, dispatcher, metrics, Scrubber(), admission
    )
    options = [
        *server_options(
            max_message_size=config.max_message_size,
            reuse_port=config.reuse_port,
            handshake_timeout=config.handshake_timeout,
            max_connection_idle=config.max_connection_idle,
            max_pending_calls=config.max_pending_calls,
        ),
        ("grpc.http2.min_ping_interval_without_data_ms", MIN_CLIENT_PING_INTERVAL_MS),
        ("grpc.keepalive_permit_without_calls", 1),
        *_connection_age_options(config),
    ]
    # --max-concurrent-rpcs is enforced by ``admission`` for agent calls only (one limit for
    # every protocol), never by grpc, whose limit would also refuse health and metadata calls.
    server = grpc.aio.server(options=options)
    for adapter in adapters:
        server.add_generic_rpc_handlers(adapter.generic_handlers())
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    server.add_generic_rpc_handlers([LazyReflection((*service_names, health.SERVICE_NAME))])

    target = f"{config.host}:{config.port}"
    try:
        if config.tls_cert is not None:
            port = server.add_secure_port(target, _credentials(config))
        else:
            port = server.add_insecure_port(target)
    except RuntimeError as exc:
        from agenthost.server.ports import bind_problem

        reason = None if config.reuse_port else bind_problem(config.host, config.port)
        print(f"agenthost serve: {reason or f'cannot bind {target}: {exc}'}", file=sys.stderr)
        sys.stderr.flush()
        return 1
    from agenthost.server.listeners import start_health_listener, start_metrics_listener

    listener = health_server = None
    if metrics is not None and config.metrics_dir is None:
        listener = await start_metrics_listener(metrics.registry, config)
        if listener is None:
            return 1
    if config.health_port:
        health_server = start_health_listener(health_servicer, config)
        if health_server is None:
            return 1
        await health_server.start()
    await server.start()
    watchdog = None
    if config.loop_block_threshold > 0:
        from agenthost.server.watchdog import LoopWatchdog

        watchdog = LoopWatchdog(config.loop_block_threshold, dispatcher.agents.call_sites())
        watchdog.start()
    for name in ("", *service_names):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

    _banner(result, f"{config.host}:{port}", config)
    # After the banner, so start-up does not wait for ctypes; the threads that matter (agent
    # pool, metrics scrapes) start later and share the capped arenas.
    from agenthost.server.memory import limit_malloc_arenas

    limit_malloc_arenas()

    watcher = None
    if parent_pid is not None:
        watcher = asyncio.create_task(_watch_parent(parent_pid, stop))
    if config.run_for is not None and config.worker_index is None:
        loop.call_later(config.run_for, stop.set)
    await stop.wait()
    if watcher is not None:
        watcher.cancel()

    logger.info("shutting down: grace period %.1f s", config.grace_period)
    await health_servicer.enter_graceful_shutdown()
    # gRPC cancels the calls it has received but not yet handed to this loop when its shutdown
    # starts: give the loop a moment to take them (they then run like any other call).
    await asyncio.sleep(SHUTDOWN_SETTLE)
    await server.stop(config.grace_period)
    if health_server is not None:
        await health_server.stop(0)
    await dispatcher.aclose()
    admission.close()
    if listener is not None:
        await listener.stop()
    executor.shutdown(wait=False, cancel_futures=True)
    if watchdog is not None:
        watchdog.stop()
    logger.info("stopped")
    return 0


def _adapters(
    protocols: tuple[str, ...],
    dispatcher: Dispatcher,
    metrics: Metrics | None,
    scrub: Scrubber,
    admission: Admission,
) -> tuple[list[ServiceBase], tuple[str, ...]]:
    """The protocol adapters to serve (imported only if served) and their service names."""
    adapters: list[ServiceBase] = []
    names: list[str] = []
    if "v1" in protocols:
        from agenthost.protocols.v1 import services as v1

        adapters.append(v1.AgentServices(dispatcher, metrics, scrub, admission))
        names += v1.SERVICE_NAMES
    if "v2" in protocols:
        from agenthost.protocols.v2 import services as v2

        adapters.append(v2.ConnectorServices(dispatcher, metrics, scrub, admission))
        names += v2.SERVICE_NAMES
    return adapters, tuple(names)


def _connection_age_options(config: ServerConfig) -> list[tuple[str, int]]:
    """gRPC server options for ``--max-connection-age`` (none when it is 0)."""
    if config.max_connection_age <= 0:
        return []
    return [
        ("grpc.max_connection_age_ms", int(config.max_connection_age * 1000)),
        ("grpc.max_connection_age_grace_ms", int(config.max_connection_age_grace * 1000)),
    ]


async def _watch_parent(parent_pid: int, stop: asyncio.Event) -> None:
    while os.getppid() == parent_pid:
        await asyncio.sleep(1.0)
    logger.warning("supervisor %d is gone; stopping", parent_pid)
    stop.set()
