"""Ports: whether one can be served (one check, shared by the single server and the
``--workers`` supervisor), and a free one to pick.

grpc binds with ``SO_REUSEPORT`` for ``--workers``, and Linux lets any process of the same
user join such a port silently. So the supervisor first binds the port itself *without*
``SO_REUSEPORT``: that fails while anyone listens on it, and only then do the workers share it.
"""

from __future__ import annotations

import errno
import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that was free a moment ago (the kernel's pick for port 0)."""
    bind_host = host.strip("[]")
    family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((bind_host, 0))
        return int(sock.getsockname()[1])


def bind_error(host: str, port: int) -> OSError | None:
    """The error binding ``host:port`` now gives (with ``SO_REUSEADDR``, so connections of an
    earlier server in TIME_WAIT do not count), or None if it can be bound."""
    bind_host = host.strip("[]")
    family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((bind_host, port))
    except OSError as exc:
        return exc
    return None


def bind_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be bound now (one line naming the port), or None if it can
    (``bind_error``)."""
    exc = bind_error(host, port)
    if exc is None:
        return None
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} is already in use (another process listens on {host}:{port})"
    return f"cannot bind {host}:{port}: {exc.strerror or exc}"
