"""``agenthost serve``: the command that runs the gRPC server.

Every option can also be set through the environment variable named in its help
(``AGENTHOST_PORT=9000``); list options (``--allow``, ``--block``, ``--modules``) take
comma-separated values there. flytekit's ``pyflyte serve connector`` spellings work too:
``--prometheus_port`` (``--metrics-port``), ``--worker`` (``--max-threads``), ``--timeout`` and
repeated ``--modules``, and ``FLYTE_SDK_LOGGING_LEVEL``/``FLYTE_SDK_LOGGING_FORMAT`` apply when
no agenthost log setting is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from agenthost.cli.options import (
    AllowOption,
    BlockOption,
    ModulesOption,
    PluginSelection,
    split_names,
)
from agenthost.server import app as server_app
from agenthost.server.config import DEFAULT_WORKER_START_TIMEOUT
from agenthost.server.logs import LogSettingError, resolve_log_settings


def serve(
    host: Annotated[
        str,
        typer.Option(envvar="AGENTHOST_HOST", help="Address to bind; [::] is all interfaces."),
    ] = "[::]",
    port: Annotated[
        int, typer.Option(envvar="AGENTHOST_PORT", help="gRPC port; 0 picks a free port.")
    ] = 8000,
    metrics_port: Annotated[
        int,
        typer.Option(
            "--metrics-port",
            "--prometheus_port",
            envvar="AGENTHOST_METRICS_PORT",
            help="Prometheus /metrics port; 0 disables metrics. With --workers N, one scrape "
            "here covers every worker.",
        ),
    ] = 9090,
    metrics_host: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            envvar="AGENTHOST_METRICS_HOST",
            help="Address the /metrics listener binds; default: --host.",
        ),
    ] = None,
    health_port: Annotated[
        int,
        typer.Option(
            envvar="AGENTHOST_HEALTH_PORT",
            help="Plaintext port serving only grpc.health.v1 (for kubelet gRPC probes when "
            "--tls-cert is set); 0 disables it.",
        ),
    ] = 0,
    health_host: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            envvar="AGENTHOST_HEALTH_HOST",
            help="Address the --health-port listener binds; default: --host.",
        ),
    ] = None,
    allow: AllowOption = None,
    block: BlockOption = None,
    modules: ModulesOption = None,
    strict: Annotated[
        bool,
        typer.Option(envvar="AGENTHOST_STRICT", help="Refuse to start if any plugin fails."),
    ] = False,
    max_concurrent_rpcs: Annotated[
        int,
        typer.Option(
            envvar="AGENTHOST_MAX_CONCURRENT_RPCS",
            help="Refuse agent calls beyond this many in flight (RESOURCE_EXHAUSTED); health "
            "and metadata calls are never refused. 0: no limit.",
        ),
    ] = 10_000,
    agent_concurrency: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            envvar="AGENTHOST_AGENT_CONCURRENCY",
            help="At most this many concurrent calls into each agent (others wait).",
        ),
    ] = None,
    max_threads: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            "--max-threads",
            "--worker",
            envvar="AGENTHOST_MAX_THREADS",
            help="Size of the thread pool that runs blocking (def) agent methods; one agent "
            "may occupy all but one of its threads, so a hanging agent cannot starve the others.",
        ),
    ] = None,
    max_message_size: Annotated[
        int,
        typer.Option(
            envvar="AGENTHOST_MAX_MESSAGE_SIZE",
            help="Largest gRPC message, in bytes (larger: RESOURCE_EXHAUSTED).",
        ),
    ] = 8 * 1024 * 1024,
    max_request_bytes: Annotated[
        int,
        typer.Option(
            envvar="AGENTHOST_MAX_REQUEST_BYTES",
            help="Budget of request bytes held at once; calls over it wait before their "
            "request is read (HTTP/2 flow control holds the client back).",
        ),
    ] = 64 * 1024 * 1024,
    read_timeout: Annotated[
        float,
        typer.Option(
            envvar="AGENTHOST_READ_TIMEOUT",
            help="Seconds each request message may take to arrive once its read started "
            "(e.g. ExecuteTaskSync inputs after the header); then DEADLINE_EXCEEDED.",
        ),
    ] = 20.0,
    handshake_timeout: Annotated[
        float,
        typer.Option(
            envvar="AGENTHOST_HANDSHAKE_TIMEOUT",
            help="Seconds a new connection has to complete the HTTP/2 handshake.",
        ),
    ] = 10.0,
    max_connection_idle: Annotated[
        float,
        typer.Option(
            envvar="AGENTHOST_MAX_CONNECTION_IDLE",
            help="Close connections without calls for this many seconds (GOAWAY); 0: never.",
        ),
    ] = 300.0,
    max_pending_calls: Annotated[
        int,
        typer.Option(
            envvar="AGENTHOST_MAX_PENDING_CALLS",
            help="Calls that may have arrived and wait to be picked up (bursts); beyond it "
            "grpc refuses them.",
        ),
    ] = 20_000,
    grace_period: Annotated[
        float,
        typer.Option(
            envvar="AGENTHOST_GRACE_PERIOD",
            help="Seconds in-flight calls get to finish after SIGTERM/SIGINT.",
        ),
    ] = 15.0,
    max_connection_age: Annotated[
        float,
        typer.Option(
            envvar="AGENTHOST_MAX_CONNECTION_AGE",
            help="Seconds after which a client connection is sent GOAWAY (clients reconnect, "
            "possibly to a newer replica); 0 keeps connections forever.",
        ),
    ] = 300.0,
    max_connection_age_grace: Annotated[
        float,
        typer.Option(
            envvar="AGENTHOST_MAX_CONNECTION_AGE_GRACE",
            help="Seconds calls on a connection past --max-connection-age get to finish "
            "before it is closed.",
        ),
    ] = 300.0,
    timeout: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(
            envvar="AGENTHOST_TIMEOUT",
            help="Stop after this many seconds, as on SIGTERM (like `pyflyte serve --timeout`; "
            "for tests).",
        ),
    ] = None,
    tls_cert: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(envvar="AGENTHOST_TLS_CERT", help="PEM server certificate (enables TLS)."),
    ] = None,
    tls_key: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(envvar="AGENTHOST_TLS_KEY", help="PEM private key of --tls-cert."),
    ] = None,
    tls_client_ca: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            envvar="AGENTHOST_TLS_CLIENT_CA",
            help="PEM CA bundle; clients must present a certificate it signed (mTLS).",
        ),
    ] = None,
    log_level: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            envvar="AGENTHOST_LOG_LEVEL",
            help="DEBUG, INFO, WARNING or ERROR; if unset, FLYTE_SDK_LOGGING_LEVEL (a number, "
            "as flytekit reads it) or INFO.",
        ),
    ] = None,
    log_format: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            envvar="AGENTHOST_LOG_FORMAT",
            help="text or json; if unset, FLYTE_SDK_LOGGING_FORMAT or text.",
        ),
    ] = None,
    protocols: Annotated[
        str,
        typer.Option(
            envvar="AGENTHOST_PROTOCOLS",
            help="Protocols served on the port, comma-separated: v1 (flyteidl agent services, "
            "Flyte 1), v2 (flyteidl2 connector services, Flyte 2), or both.",
        ),
    ] = "v1,v2",
    workers: Annotated[
        int,
        typer.Option(
            envvar="AGENTHOST_WORKERS",
            help="Serve from N processes sharing the port (SO_REUSEPORT), restarted if they crash.",
        ),
    ] = 1,
    worker_start_timeout: Annotated[
        float,
        typer.Option(
            envvar="AGENTHOST_WORKER_START_TIMEOUT",
            help="With --workers N: seconds a worker has to start serving (load its plugins, "
            "bind the port); one that has not is killed and counts as a failure at start.",
        ),
    ] = DEFAULT_WORKER_START_TIMEOUT,
    event_loop: Annotated[
        str,
        typer.Option(
            envvar="AGENTHOST_EVENT_LOOP",
            help="auto (uvloop if installed, as it is with agenthost on Linux and macOS), "
            "uvloop or asyncio.",
        ),
    ] = "auto",
) -> None:
    """Serve every loaded agent over gRPC until SIGTERM or SIGINT."""
    plugins = PluginSelection.from_options(allow, block, modules)
    try:
        log_level, log_format = resolve_log_settings(log_level, log_format)
    except LogSettingError as exc:
        raise typer.BadParameter(exc.reason, param_hint=exc.option) from None
    config = server_app.ServerConfig(
        host=host,
        port=port,
        metrics_port=metrics_port,
        metrics_host=metrics_host,
        health_port=health_port,
        health_host=health_host,
        allow=plugins.allow,
        block=list(plugins.block),
        modules=list(plugins.modules),
        strict=strict,
        max_concurrent_rpcs=max_concurrent_rpcs,
        agent_concurrency=agent_concurrency,
        max_threads=max_threads,
        max_message_size=max_message_size,
        max_request_bytes=max_request_bytes,
        read_timeout=read_timeout,
        handshake_timeout=handshake_timeout,
        max_connection_idle=max_connection_idle,
        max_pending_calls=max_pending_calls,
        grace_period=grace_period,
        max_connection_age=max_connection_age,
        max_connection_age_grace=max_connection_age_grace,
        run_for=timeout,
        tls_cert=tls_cert,
        tls_key=tls_key,
        tls_client_ca=tls_client_ca,
        log_level=log_level,
        log_format=log_format,
        workers=workers,
        worker_start_timeout=worker_start_timeout,
        event_loop=event_loop,
        protocols=tuple(split_names([protocols])),
    )
    raise typer.Exit(server_app.run(config))
