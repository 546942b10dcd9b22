"""Client channels to an agent service: plaintext, or TLS with optional mutual TLS and an
expected server name. The one place ``agenthost run``, ``agenthost health`` and the remote
backends build their channels (``grpc`` blocking channels and ``grpc.aio`` ones alike)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc
import grpc.aio


class CredentialsFileError(ValueError):
    """A PEM file named by a client TLS option could not be read; the message names the option
    and the file (``--ca-cert /x.pem: No such file or directory``)."""

    def __init__(self, option: str, path: Path, reason: str) -> None:
        self.option = option
        self.path = path
        self.reason = reason
        super().__init__(f"{option} {path}: {reason}")


def _read(path: Path | None, option: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CredentialsFileError(option, path, exc.strerror or str(exc)) from None


def client_credentials(
    ca_cert: Path | None = None,
    client_cert: Path | None = None,
    client_key: Path | None = None,
) -> grpc.ChannelCredentials:
    """TLS credentials verifying the server with ``ca_cert`` (the system roots if None) and,
    for mutual TLS, presenting ``client_cert`` with its ``client_key``. Raises
    ``CredentialsFileError`` naming the option (``--ca-cert``...) of a file it cannot read."""
    return grpc.ssl_channel_credentials(
        root_certificates=_read(ca_cert, "--ca-cert"),
        private_key=_read(client_key, "--client-key"),
        certificate_chain=_read(client_cert, "--client-cert"),
    )


def channel_options(
    server_name: str | None = None, options: Sequence[tuple[str, Any]] = ()
) -> list[tuple[str, Any]]:
    """gRPC channel options: ``options``, plus the name to expect in the server's certificate
    when it is not the address's host."""
    chosen = list(options)
    if server_name:
        chosen.append(("grpc.ssl_target_name_override", server_name))
    return chosen


def open_channel(
    address: str,
    credentials: grpc.ChannelCredentials | None = None,
    *,
    server_name: str | None = None,
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.Channel:
    """A blocking channel to ``address``: plaintext if ``credentials`` is None, else TLS."""
    chosen = channel_options(server_name, options)
    if credentials is None:
        return grpc.insecure_channel(address, options=chosen)
    return grpc.secure_channel(address, credentials, options=chosen)


def open_aio_channel(
    address: str,
    credentials: grpc.ChannelCredentials | None = None,
    *,
    server_name: str | None = None,
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.aio.Channel:
    """A ``grpc.aio`` channel to ``address``: plaintext if ``credentials`` is None, else TLS."""
    chosen = channel_options(server_name, options)
    if credentials is None:
        return grpc.aio.insecure_channel(address, options=chosen)
    return grpc.aio.secure_channel(address, credentials, options=chosen)
