"""Ports: whether one can be served (one check, shared by the single server and the
``--workers`` supervisor), and a free one to pick.

grpc binds with ``SO_REUSEPORT`` for ``--workers``, and Linux lets any process of the same
user join such a port silently. So the supervisor first binds the port itself *without*
``SO_REUSEPORT``: that fails while anyone listens on it, and only then do the workers share it.
Until they do (seconds: they load the plugins first), and for as long as it runs, the
supervisor keeps the port bound (``hold_port``), so that no other socket takes it meanwhile.
"""

from __future__ import annotations

import errno
import socket

HOLD_ATTEMPTS = 5
"""Ports ``pick_and_hold`` tries before giving up (each was free a moment before)."""


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


def hold_port(host: str, port: int) -> socket.socket | None:
    """A socket bound to ``host:port`` and not listening, kept by the ``--workers`` supervisor
    while its workers share the port; None if it cannot be bound (then nothing is held).

    With ``SO_REUSEPORT`` alone: the workers (``SO_REUSEPORT``, same user) bind and listen
    beside it, while any socket without ``SO_REUSEPORT`` is refused the port, with or without
    ``SO_REUSEADDR`` (a holder with ``SO_REUSEADDR`` would let such a socket bind and listen,
    as it does not listen itself), and an outgoing connection never picks it as its local
    port. Not listening, it is never given a connection. None too where the system has no
    ``SO_REUSEPORT``, or when the port is in ``TIME_WAIT`` from a server without it."""
    bind_host = host.strip("[]")
    family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
    if not hasattr(socket, "SO_REUSEPORT"):
        return None
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((bind_host, port))
    except OSError:
        sock.close()
        return None
    return sock


def pick_and_hold(host: str) -> tuple[int, socket.socket | None]:
    """A free port on ``host`` (``--port 0`` with ``--workers``) and its ``hold_port`` socket:
    between the kernel's pick and the hold another socket may take the port, so up to
    ``HOLD_ATTEMPTS`` ports are tried; the last one unheld if none could be held."""
    port = free_port(host)
    for _ in range(HOLD_ATTEMPTS):
        held = hold_port(host, port)
        if held is not None:
            return port, held
        port = free_port(host)
    return port, None
