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

import grpc
import typer
from grpc_health.v1 import health_pb2, health_pb2_grpc

from agenthost.cli.options import (
    ClientTLS,
    ca_cert_option,
    client_cert_option,
    client_key_option,
    host_port_problem,
    seconds_problem,
    server_name_option,
)
from agenthost.run.channels import CredentialsFileError, client_credentials, open_channel

EXIT_SERVING = 0
EXIT_UNHEALTHY = 1


def _default_endpoint() -> str:
    return f"127.0.0.1:{os.environ.get('AGENTHOST_PORT') or 8000}"


def _code_name(exc: BaseException) -> str:
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
    ``"SERVICE_UNKNOWN"``, ...). TLS if ``tls`` or a CA or client certificate is given. Raises
    ``grpc.RpcError`` if the server cannot be asked, ``CredentialsFileError`` if a PEM file
    cannot be read."""
    credentials = None
    if tls or ca_cert or client_cert:
        credentials = client_credentials(ca_cert, client_cert, client_key)
    channel = open_channel(endpoint, credentials, server_name=server_name)
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
        ca_cert_option(envvar="AGENTHOST_HEALTH_CA_CERT"),
    ] = None,
    client_cert: Annotated[
        Optional[Path],  # noqa: UP045
        client_cert_option(envvar="AGENTHOST_HEALTH_CLIENT_CERT"),
    ] = None,
    client_key: Annotated[
        Optional[Path],  # noqa: UP045
        client_key_option(envvar="AGENTHOST_HEALTH_CLIENT_KEY"),
    ] = None,
    server_name: Annotated[
        Optional[str],  # noqa: UP045
        server_name_option(envvar="AGENTHOST_HEALTH_SERVER_NAME"),
    ] = None,
) -> None:
    """Check a server's gRPC health service; exit 0 if SERVING, 1 otherwise."""
    problem = ClientTLS(ca_cert, client_cert, client_key, server_name).problem()
    if problem is not None:
        raise typer.BadParameter(problem)
    for path in (ca_cert, client_cert, client_key):
        if path is not None and not path.is_file():
            raise typer.BadParameter(f"{path}: no such file")
    target = endpoint or _default_endpoint()
    # A misconfigured probe must say so (exit 2), not report the server unhealthy forever.
    if problem := seconds_problem("--timeout", timeout) or host_port_problem(target):
        raise typer.BadParameter(problem)
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
    except CredentialsFileError as exc:
        raise typer.BadParameter(str(exc)) from None
    except grpc.RpcError as exc:
        details = exc.details() if isinstance(exc, grpc.Call) else ""
        typer.echo(f"agenthost health: {target}: {_code_name(exc)}: {details}", err=True)
        raise typer.Exit(EXIT_UNHEALTHY) from None
    typer.echo(status)
    raise typer.Exit(EXIT_SERVING if status == "SERVING" else EXIT_UNHEALTHY)
