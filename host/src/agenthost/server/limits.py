"""The server's limits: their defaults, and the grpc (C-core) server arguments that bound
connections and bursts.

* ``grpc.http2.bdp_probe`` off: without it, C-core grows every stream's HTTP/2 window to its
  estimate of the link's bandwidth-delay product, so request bytes arrive before the services
  read them and the request-bytes budget (``agenthost.server.admission``) could not hold
  clients back. Agent requests are small; a message being read still gets a window as large
  as the message.
* ``grpc.server_handshake_timeout_ms``: a connection that has not completed the HTTP/2
  handshake (the client's preface and SETTINGS) within ``--handshake-timeout`` is closed.
* ``grpc.max_connection_idle_ms``: a connection with no call for ``--max-connection-idle`` is
  closed with a GOAWAY (clients reconnect on their next call).
* ``grpc.server.max_pending_requests`` (and its hard limit): calls that arrived but that the
  server has not picked up yet. C-core's defaults (1,000, then randomly up to 3,000) cancel
  part of any burst larger than that, even on an idle server; ``--max-pending-calls`` sets both.
* ``grpc.max_connection_age_ms`` (and its grace): ``--max-connection-age`` (none when 0).
* ``grpc.http2.min_ping_interval_without_data_ms`` and ``grpc.keepalive_permit_without_calls``:
  clients may ping every ``MIN_CLIENT_PING_INTERVAL_MS``, during calls and between them.
"""

from __future__ import annotations

DEFAULT_MAX_CONCURRENT_RPCS = 10_000
"""Default limit of agent calls in flight: twice issue 25's 5,000-call burst, and at ~15–30
KiB per call in flight about 150–300 MiB, so a larger burst is shed with RESOURCE_EXHAUSTED
rather than growing the server towards the chart's memory limit."""

DEFAULT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024
"""Default largest gRPC message: twice the 4 MiB propeller itself accepts, so a request with
4 MiB of inline inputs fits; larger requests are refused with ``RESOURCE_EXHAUSTED``."""

DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024
"""Default request-bytes budget: with ``DEFAULT_MAX_MESSAGE_BYTES`` requests, peak RSS stays
under the Helm chart's default memory limit (see docs/operations.md for the figures)."""

DEFAULT_READ_TIMEOUT = 20.0
"""Default seconds a started request read (each message of a stream) may take."""

DEFAULT_HANDSHAKE_TIMEOUT = 10.0
"""Default seconds a new connection has to complete the HTTP/2 handshake."""

DEFAULT_MAX_CONNECTION_IDLE = 300.0
"""Default seconds a connection may stay without calls before it is closed (0: never)."""

DEFAULT_MAX_PENDING_CALLS = 20_000
"""Default number of arrived calls that may wait to be picked up by the server."""

DEFAULT_MAX_CONNECTION_AGE = 300.0
"""Seconds before a client connection gets GOAWAY: after a scale-out, clients that keep one
connection per address (``dns:///``, a ClusterIP Service) spread onto the new replicas within
minutes, for one reconnect per client every five minutes."""

DEFAULT_MAX_CONNECTION_AGE_GRACE = 300.0
"""Seconds calls on an aged connection get to finish: the longest deadline
``agenthost propeller-config`` gives propeller (``ExecuteTaskSync``), so no call is cut."""

MIN_CLIENT_PING_INTERVAL_MS = 5000
"""Clients may send keepalive pings this often (during calls and between them) without being
cut off with ``too_many_pings``; Flyte 2's executor pings every 30 s, some clients every 10 s.
grpc's default (5 min without data) cuts a quiet call after ~150 s of 30 s pings."""


def server_options(
    *,
    max_message_size: int,
    reuse_port: bool,
    handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
    max_connection_idle: float = DEFAULT_MAX_CONNECTION_IDLE,
    max_pending_calls: int = DEFAULT_MAX_PENDING_CALLS,
    max_connection_age: float = DEFAULT_MAX_CONNECTION_AGE,
    max_connection_age_grace: float = DEFAULT_MAX_CONNECTION_AGE_GRACE,
) -> list[tuple[str, int]]:
    """The ``options`` for ``grpc.aio.server`` (see the module docstring)."""
    options = [
        ("grpc.max_send_message_length", max_message_size),
        ("grpc.max_receive_message_length", max_message_size),
        ("grpc.so_reuseport", 1 if reuse_port else 0),
        ("grpc.http2.bdp_probe", 0),
        ("grpc.server_handshake_timeout_ms", int(handshake_timeout * 1000)),
        ("grpc.server.max_pending_requests", max_pending_calls),
        ("grpc.server.max_pending_requests_hard_limit", max_pending_calls),
        ("grpc.http2.min_ping_interval_without_data_ms", MIN_CLIENT_PING_INTERVAL_MS),
        ("grpc.keepalive_permit_without_calls", 1),
    ]
    if max_connection_idle > 0:
        options.append(("grpc.max_connection_idle_ms", int(max_connection_idle * 1000)))
    if max_connection_age > 0:
        options.append(("grpc.max_connection_age_ms", int(max_connection_age * 1000)))
        options.append(("grpc.max_connection_age_grace_ms", int(max_connection_age_grace * 1000)))
    return options
