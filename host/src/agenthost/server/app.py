"""Assemble and serve. A ``Server`` puts the agents behind the protocol adapters
``--protocols`` names, with health, reflection and metrics, on one ``grpc.aio`` server;
``start()`` binds and serves, ``stop()`` drains. ``serve`` is one process's life around a
``Server``, and ``run`` is where ``agenthost serve`` lands: one process, or a supervisor of
``--workers`` processes (``agenthost.server.supervisor``).

A watchdog (``agenthost.server.watchdog``) logs event-loop stalls of
``loop_block_threshold`` seconds or more, naming the agent call that caused them.

Shutdown (SIGTERM/SIGINT, ``Server.stop``): the health status of every service flips to
``NOT_SERVING`` and, ``SHUTDOWN_SETTLE`` seconds later, gRPC's graceful shutdown starts: the
listening socket closes and every connection gets an HTTP/2 GOAWAY, so round-robin clients stop
picking this replica (streams opened after the GOAWAY are refused at the HTTP/2 level and
retried transparently elsewhere). Calls in flight get ``grace_period`` seconds to finish; then
every agent's optional ``aclose()`` runs (see ``Dispatcher.aclose``) and the process exits 0.
gRPC core cancels a call that reaches it after its shutdown started but before the client read
the GOAWAY; nothing in grpcio sends a GOAWAY without that shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agenthost.server.config import PROTOCOLS, ServerConfig
from agenthost.server.limits import server_options
from agenthost.server.logs import configure_logging
from agenthost.server.process import (
    AGENT_THREAD_PREFIX,
    SERVING_PREFIX,
    StartupError,
    announce_serving,
    report_error,
    run_process,
    stop_requested,
    wait_for_stop,
)

if TYPE_CHECKING:
    from agenthost.agent import AgentBase
    from agenthost.core.dispatcher import Dispatcher
    from agenthost.loading.report import LoadResult
    from agenthost.protocols.common import ServiceBase
    from agenthost.server.admission import Admission
    from agenthost.server.metrics import Metrics
    from agenthost.server.metrics_http import MetricsListener
    from agenthost.server.scrub import Scrubber
    from agenthost.server.watchdog import LoopWatchdog

__all__ = ["PROTOCOLS", "SERVING_PREFIX", "Server", "ServerConfig", "run", "serve"]

logger = logging.getLogger("agenthost.server")

SHUTDOWN_SETTLE = 0.1
"""Seconds between the health status turning ``NOT_SERVING`` and the start of gRPC's shutdown
(see ``Server.stop``)."""


def run(config: ServerConfig) -> int:
    """Serve until SIGTERM/SIGINT, in this process or, with ``--workers N``, from N supervised
    worker processes; return the process exit code (2: a bad configuration)."""
    configure_logging(config.log_level, config.log_format)
    problems = config.validate()
    if problems:
        for problem in problems:
            report_error(problem)
        return 2
    for caution in config.cautions():
        logger.warning("%s", caution)
    if config.supervised:
        # Imported only with --workers (one way: the supervisor never imports this module).
        from agenthost.server.supervisor import supervise

        return supervise(config)
    return run_process(serve(config), config.event_loop)


async def serve(config: ServerConfig, *, parent_pid: int | None = None) -> int:
    """Load the plugins, start a ``Server``, serve until SIGTERM/SIGINT, ``--timeout`` or (for
    a worker) the end of its supervisor ``parent_pid``, and stop; return the exit code."""
    # Before grpc and the event loop start their threads, so that none of them gets an arena
    # of its own (on uvloop, capping once serving left RSS creeping up by ~2 MiB a minute).
    from agenthost.server.memory import limit_malloc_arenas

    limit_malloc_arenas()
    try:
        plugins = load(config)
        # Only now: the loop's handler merely sets an event, which a plugin import that never
        # returns would keep the loop from seeing; until here SIGTERM/SIGINT act as by default.
        stop = stop_requested()
        server = Server(config, plugins.agents, failed_plugins=[r.name for r in plugins.failed])
        await server.start()
    except StartupError as exc:
        report_error(exc)
        return 1
    announce_serving(server.address)
    if config.worker_index in (None, 0):
        from agenthost.loading.tables import plugins_table

        print(plugins_table(plugins), flush=True)
    run_for = config.run_for if config.worker_index is None else None
    await wait_for_stop(stop, run_for=run_for, parent_pid=parent_pid)
    await server.stop()
    return 0


def load(config: ServerConfig) -> LoadResult:
    """The plugins ``config`` allows, loaded; ``StartupError`` if ``--strict`` loading failed."""
    from agenthost.loading.loader import load_plugins
    from agenthost.loading.report import PluginLoadError

    try:
        return load_plugins(
            allow=config.allow, block=config.block, modules=config.modules, strict=config.strict
        )
    except PluginLoadError as exc:
        raise StartupError(str(exc)) from None


class Server:
    """One agenthost gRPC server for ``agents``, as ``config`` says: the agent services of
    every protocol in ``config.protocols``, health, reflection, ``/metrics`` and the
    ``--health-port`` listener. ``failed_plugins`` are named in the metrics.

    Build it in the event loop that serves it; nothing listens before ``start()``. A server
    starts once; ``stop()`` may be called any number of times."""

    def __init__(
        self,
        config: ServerConfig,
        agents: Iterable[AgentBase],
        *,
        failed_plugins: Iterable[str] = (),
    ) -> None:
        import grpc
        from grpc_health.v1 import health

        from agenthost.core.dispatcher import Dispatcher
        from agenthost.server.admission import Admission
        from agenthost.server.handlers import MethodTable, health_handlers
        from agenthost.server.reflection import LazyReflection
        from agenthost.server.scrub import Scrubber

        self.config = config
        self.port: int | None = None
        """The bound gRPC port, once started."""
        threads = config.max_threads or min(32, (os.cpu_count() or 1) + 4)
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix=AGENT_THREAD_PREFIX)
        self._metrics = _metrics(config)
        if self._metrics is not None:
            for name in failed_plugins:
                self._metrics.plugin_failed(name)
        self._dispatcher = Dispatcher(
            agents, agent_concurrency=config.agent_concurrency, agent_threads=max(1, threads - 1)
        )
        self._admission = Admission(
            max_calls=config.max_concurrent_rpcs or None,
            max_request_bytes=config.max_request_bytes,
            max_message_bytes=config.max_message_size,
            read_timeout=config.read_timeout,
        )
        adapters, self.service_names = _adapters(
            config.protocols, self._dispatcher, self._metrics, Scrubber(), self._admission
        )
        # --max-concurrent-rpcs is enforced by ``admission`` for agent calls only (one limit for
        # every protocol), never by grpc, whose limit would also refuse health and metadata calls.
        self._grpc = grpc.aio.server(options=_grpc_options(config))
        # Every method through one table of generic handlers, none as grpc's registered
        # methods, which would cost every call (see ``agenthost.server.handlers``).
        methods = {path: h for adapter in adapters for path, h in adapter.methods().items()}
        self._health = health.aio.HealthServicer()
        reflected = (*self.service_names, health.SERVICE_NAME)
        self._grpc.add_generic_rpc_handlers(
            [MethodTable(methods), *health_handlers(self._health), LazyReflection(reflected)]
        )
        self._metrics_listener: MetricsListener | None = None
        self._health_listener: Any = None
        self._watchdog: LoopWatchdog | None = None
        self._stopping: asyncio.Future[None] | None = None

    @property
    def address(self) -> str:
        """``HOST:PORT`` served (the bound port once started)."""
        return f"{self.config.host}:{self.port if self.port is not None else self.config.port}"

    async def start(self) -> None:
        """Bind the gRPC port and the side listeners, serve, and report every service
        ``SERVING``. A port that cannot be bound raises ``StartupError`` (naming it), and
        nothing is left listening."""
        from grpc_health.v1 import health_pb2

        from agenthost.server.listeners import start_health_listener, start_metrics_listener

        asyncio.get_running_loop().set_default_executor(self._executor)
        try:
            self.port = self._bind()
            if self._metrics is not None and self.config.metrics_dir is None:
                # The recorder, not its registry: prometheus_client loads at the first scrape.
                self._metrics_listener = await start_metrics_listener(self._metrics, self.config)
            if self.config.health_port:
                self._health_listener = start_health_listener(self._health, self.config)
                await self._health_listener.start()
        except StartupError:
            # ``_bind`` left the gRPC port listening (grpc listens as it binds), and grpc closes
            # it only for a server that was started: start it (answering NOT_SERVING) and stop.
            await self._health.enter_graceful_shutdown()
            await self._grpc.start()
            await self._grpc.stop(None)
            if self._metrics_listener is not None:
                await self._metrics_listener.stop()
            raise
        await self._grpc.start()
        if self._metrics is not None:
            self._metrics.watch_admission(self._admission)
        if self.config.loop_block_threshold > 0:
            from agenthost.server.watchdog import LoopWatchdog

            sites = self._dispatcher.agents.call_sites()
            self._watchdog = LoopWatchdog(self.config.loop_block_threshold, sites)
            self._watchdog.start()
        for name in ("", *self.service_names):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace: float | None = None) -> None:
        """Drain and close: every service turns ``NOT_SERVING``, then gRPC sends GOAWAY and
        gives the calls in flight ``grace`` seconds (default ``config.grace_period``); then
        every agent's ``aclose()`` runs. A second call waits for the first."""
        if self._stopping is None:
            grace = self.config.grace_period if grace is None else grace
            self._stopping = asyncio.ensure_future(self._drain(grace))
        await asyncio.shield(self._stopping)

    async def _drain(self, grace: float) -> None:
        logger.info("shutting down: grace period %.1f s", grace)
        await self._health.enter_graceful_shutdown()
        # gRPC cancels the calls it has received but not yet handed to this loop when its
        # shutdown starts: give the loop a moment to take them (they then run like any other).
        await asyncio.sleep(SHUTDOWN_SETTLE)
        await self._grpc.stop(grace)
        if self._health_listener is not None:
            await self._health_listener.stop(0)
        await self._dispatcher.aclose()
        self._admission.close()
        if self._metrics is not None:
            self._metrics.close()
        if self._metrics_listener is not None:
            await self._metrics_listener.stop()
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._watchdog is not None:
            self._watchdog.stop()
        logger.info("stopped")

    def _bind(self) -> int:
        """Bind ``--host``:``--port`` (TLS if configured); the bound port."""
        from agenthost.server.ports import bind_problem

        config = self.config
        target = f"{config.host}:{config.port}"
        try:
            if config.tls_cert is not None:
                return int(self._grpc.add_secure_port(target, _credentials(config)))
            return int(self._grpc.add_insecure_port(target))
        except RuntimeError as exc:
            reason = None if config.reuse_port else bind_problem(config.host, config.port)
            raise StartupError(reason or f"cannot bind {target}: {exc}") from None


def _metrics(config: ServerConfig) -> Metrics | None:
    """The process's metrics recorder: shared files for a worker, in memory otherwise."""
    if config.metrics_dir is not None and config.worker_index is not None:
        from agenthost.server.metrics_shared import SharedMetrics

        return SharedMetrics(config.metrics_dir, config.worker_index)
    if config.metrics_port:
        from agenthost.server.metrics import Metrics

        return Metrics()
    return None


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


def _grpc_options(config: ServerConfig) -> list[tuple[str, int]]:
    """``grpc.aio.server``'s options for ``config`` (see ``agenthost.server.limits``)."""
    return server_options(
        max_message_size=config.max_message_size,
        reuse_port=config.reuse_port,
        handshake_timeout=config.handshake_timeout,
        max_connection_idle=config.max_connection_idle,
        max_pending_calls=config.max_pending_calls,
        max_connection_age=config.max_connection_age,
        max_connection_age_grace=config.max_connection_age_grace,
    )


def _credentials(config: ServerConfig) -> Any:
    """The server's TLS credentials (``--tls-cert``, ``--tls-key``, ``--tls-client-ca``)."""
    import grpc

    assert config.tls_cert is not None
    assert config.tls_key is not None
    key = Path(config.tls_key).read_bytes()
    cert = Path(config.tls_cert).read_bytes()
    client_ca = Path(config.tls_client_ca).read_bytes() if config.tls_client_ca else None
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )
