"""Option declarations shared by several commands, declared once: plugin selection
(``--allow``/``--block``/``--modules``, for ``plugins``, ``check``, ``serve``, ``run`` and
``propeller-config``), the client TLS options of ``run`` and ``health``, and the one splitter
of list options."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

if TYPE_CHECKING:
    from agenthost.loading.report import LoadResult

LIST_HELP = " Repeat the option or separate names with commas."


def split_names(values: Iterable[str] | None) -> list[str]:
    """Flatten repeated and comma- or space-separated option values
    (``["a,b", "c d"]`` -> ``["a", "b", "c", "d"]``)."""
    return [n for v in values or () for n in v.replace(",", " ").split() if n]


AllowOption = Annotated[
    Optional[list[str]],  # noqa: UP045 - typer needs Optional on Python 3.10
    typer.Option(
        "--allow",
        envvar="AGENTHOST_ALLOW",
        help="Only load these plugins (distribution or entry-point names)." + LIST_HELP,
    ),
]
BlockOption = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option("--block", envvar="AGENTHOST_BLOCK", help="Never load these plugins." + LIST_HELP),
]
ModulesOption = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option(
        "--modules",
        envvar="AGENTHOST_MODULES",
        help="Extra modules to import as plugins (like `pyflyte serve --modules`)." + LIST_HELP,
    ),
]


@dataclass(frozen=True)
class PluginSelection:
    """Which plugins to load: ``allow`` None means all (minus ``block``), plus ``modules``."""

    allow: list[str] | None = None
    block: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()

    @classmethod
    def from_options(
        cls,
        allow: Iterable[str] | None,
        block: Iterable[str] | None,
        modules: Iterable[str] | None,
    ) -> PluginSelection:
        """The selection the ``--allow``/``--block``/``--modules`` values name; no ``--allow``
        allows everything."""
        return cls(
            allow=split_names(allow) if allow else None,
            block=tuple(split_names(block)),
            modules=tuple(split_names(modules)),
        )

    def load(self) -> LoadResult:
        """Discover, import and validate the selected plugins."""
        from agenthost.loading.loader import load_plugins

        return load_plugins(allow=self.allow, block=list(self.block), modules=list(self.modules))


GRPC_SCHEMES = ("dns:", "ipv4:", "ipv6:", "unix:", "unix-abstract:", "vsock:", "passthrough:")
"""gRPC target schemes ``--endpoint`` may start with (then grpc parses the rest)."""


def host_port_problem(endpoint: str) -> str | None:
    """What is wrong with a ``HOST:PORT`` endpoint, or None. grpc would read a missing port as
    443 and wrap one above 65535, dialling a port nobody asked for."""
    if endpoint.startswith(GRPC_SCHEMES):
        return None
    host, sep, port = endpoint.rpartition(":")
    if not sep or "]" in port:
        return f"--endpoint {endpoint!r} must be HOST:PORT"
    if not host or host in ("[]", "[", "]"):
        return f"--endpoint {endpoint!r} names no host (HOST:PORT)"
    if not (port.isascii() and port.isdigit() and 0 < int(port) <= 65535):
        return f"--endpoint {endpoint!r}: {port!r} is not a port number (1-65535)"
    return None


def seconds_problem(option: str, value: float | None) -> str | None:
    """What is wrong with a number of seconds that must be positive (None: not given), or
    None; nan and inf are no number of seconds (nan passed every comparison)."""
    if value is None or 0 < value < math.inf:
        return None
    return f"{option} must be a positive number of seconds (got {value:g})"


def ca_cert_option(*aliases: str, envvar: str | None = None) -> Any:
    """``--ca-cert``: the CA bundle that verifies the server (implies TLS)."""
    return typer.Option(
        "--ca-cert",
        *aliases,
        envvar=envvar,
        help="PEM CA bundle that signed the server's certificate (implies TLS).",
    )


def client_cert_option(*aliases: str, envvar: str | None = None) -> Any:
    """``--client-cert``: the certificate presented for mutual TLS."""
    return typer.Option(
        "--client-cert",
        *aliases,
        envvar=envvar,
        help="PEM client certificate, for servers that require mutual TLS.",
    )


def client_key_option(*aliases: str, envvar: str | None = None) -> Any:
    """``--client-key``: the private key of ``--client-cert``."""
    return typer.Option(
        "--client-key", *aliases, envvar=envvar, help="PEM private key of --client-cert."
    )


def server_name_option(envvar: str | None = None) -> Any:
    """``--server-name``: the name expected in the server's certificate."""
    return typer.Option(
        "--server-name",
        envvar=envvar,
        help="Name to expect in the server's certificate (default: the endpoint's host).",
    )


@dataclass(frozen=True)
class ClientTLS:
    """The client TLS options of a command that calls a server."""

    ca_cert: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    server_name: str | None = None

    @property
    def requested(self) -> bool:
        """Whether a CA or a client certificate was given (either implies TLS)."""
        return self.ca_cert is not None or self.client_cert is not None

    def problem(self) -> str | None:
        """What is wrong with the combination, or None."""
        if (self.client_cert is None) != (self.client_key is None):
            return "--client-cert and --client-key must be given together"
        return None

    def credentials(self) -> Any:
        """``grpc.ChannelCredentials`` from the files; ``CredentialsFileError`` naming the
        option of a file that cannot be read."""
        from agenthost.run.channels import client_credentials

        return client_credentials(self.ca_cert, self.client_cert, self.client_key)
