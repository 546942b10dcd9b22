"""``agenthost health``: ask a server's standard gRPC health service whether it is serving.

Made for container health checks (``HEALTHCHECK`` in the image, ``exec`` probes when the pod
serves TLS): prints the status and exits 0 only if it is ``SERVING``, 1 otherwise (not serving,
unknown service, unreachable, timed out). Every option can come from the environment variable
named in its help, so one ``HEALTHCHECK`` line works for any configuration of the container.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

EXIT_SERVING = 0
EXIT_UNHEALTHY = 1


def _default_endpoint() -> str:
    return f"127.0.0.1:{os.environ.get('AGENTHOST_PORT') or 8000}"


def _code_name(exc: BaseException) -> str:
    import grpc

    code = exc.code() if isinstance(exc, grpc.Call) else None
    return code.name if code is not None else "UNKNOWN"


def check_health(
    endpoint: str,
    *,
    service: str = "",
    timeout: float = 5.0,
    tls: bool = False,
    ca_cert: Path | None = None,
    client_cert: Path | None = None,
    client_key: Path | None = None,
    server_name: str | None = None,
) -> str:
    """The health status name of ``service`` at ``endpoint`` (``"SERVING"``, ``"NOT_SERVING"``,
    ``"SERVICE_UNKNOWN"``, ...). Raises ``grpc.RpcError`` if the server cannot be asked."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    options: list[tuple[str, str | int]] = []
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    if tls or ca_cert or client_cert:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=ca_cert.read_bytes() if ca_cert else None,
            private_key=client_key.read_bytes() if client_key else None,
            certificate_chain=client_cert.read_bytes() if client_cert else None,
        )
        channel = grpc.secure_channel(endpoint, credentials, options=options)
    else:
        channel = grpc.insecure_channel(endpoint, options=options)
    with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError as exc:
            if _code_name(exc) == "NOT_FOUND":
                return "SERVICE_UNKNOWN"
            raise
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))


def health(
    endpoint: Annotated[
        Optional[str],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option(
            envvar="AGENTHOST_HEALTH_ENDPOINT",
            help="HOST:PORT of the server (default: 127.0.0.1:$AGENTHOST_PORT, else :8000).",
            show_default=False,
        ),
    ] = None,
    service: Annotated[
        str,
        typer.Option(
            envvar="AGENTHOST_HEALTH_SERVICE",
            help="Service to ask about; empty means the whole server.",
        ),
    ] = "",
    timeout: Annotated[
        float, typer.Option(envvar="AGENTHOST_HEALTH_TIMEOUT", help="Seconds to wait.")
    ] = 5.0,
    tls: Annotated[
        bool,
        typer.Option(
            envvar="AGENTHOST_HEALTH_TLS",
            help="Use TLS (verifying with --ca-cert, or the system roots).",
        ),
    ] = False,
    ca_cert: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            envvar="AGENTHOST_HEALTH_CA_CERT", help="PEM CA bundle to verify the server (TLS)."
        ),
    ] = None,
    client_cert: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            envvar="AGENTHOST_HEALTH_CLIENT_CERT", help="PEM client certificate (mutual TLS)."
        ),
    ] = None,
    client_key: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            envvar="AGENTHOST_HEALTH_CLIENT_KEY", help="PEM private key of --client-cert."
        ),
    ] = None,
    server_name: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            envvar="AGENTHOST_HEALTH_SERVER_NAME",
            help="Name to expect in the server certificate (default: the endpoint's host).",
        ),
    ] = None,
) -> None:
    """Check a server's gRPC health service; exit 0 if SERVING, 1 otherwise."""
    import grpc

    if (client_cert is None) != (client_key is None):
        raise typer.BadParameter("--client-cert and --client-key go together")
    for path in (ca_cert, client_cert, client_key):
        if path is not None and not path.is_file():
            raise typer.BadParameter(f"{path}: no such file")
    target = endpoint or _default_endpoint()
    try:
        status = check_health(
            target,
            service=service,
            timeout=timeout,
            tls=tls,
            ca_cert=ca_cert,
            client_cert=client_cert,
            client_key=client_key,
            server_name=server_name,
        )
    except grpc.RpcError as exc:
        details = exc.details() if isinstance(exc, grpc.Call) else ""
        typer.echo(f"agenthost health: {target}: {_code_name(exc)}: {details}", err=True)
        raise typer.Exit(EXIT_UNHEALTHY) from None
    typer.echo(status)
    raise typer.Exit(EXIT_SERVING if status == "SERVING" else EXIT_UNHEALTHY)
