"""Snowflake connections, opened once and reused per (account, user, key fingerprint, database,
schema, warehouse), and closed when the host shuts down.

flytekit's connector logs in on every poll; a login is a round trip plus a key-pair signature,
several times the cost of the status request itself. ``snowflake.connector`` connections are
safe to share between threads (DB-API ``threadsafety`` 2), so one connection per key serves
every concurrent call for it.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent_snowflake.settings import Endpoint, KeyPair, endpoint, timeout_seconds
from agent_snowflake.version import __version__

if TYPE_CHECKING:
    from snowflake.connector import SnowflakeConnection

MAX_CONNECTIONS = 32
"""Distinct connection keys kept open; the least recently used one is closed beyond that."""

MAX_BACKOFF_SECONDS = 2
"""Longest pause between the connector's retries, so a timeout is not overrun by a last sleep."""

APPLICATION = "agenthost"
"""Reported to Snowflake as the client application (``application`` connection parameter)."""


@dataclass(frozen=True)
class ConnectionKey:
    """What a connection is reused for: never the key itself, only its fingerprint."""

    account: str
    user: str
    key_fingerprint: str
    database: str
    schema: str
    warehouse: str


def connection_parameters(
    key: ConnectionKey, key_pair: KeyPair, where: Endpoint | None, timeout: float
) -> dict[str, Any]:
    """The ``snowflake.connector.connect`` keyword arguments for ``key``."""
    from snowflake.connector.backoff_policies import exponential_backoff

    params: dict[str, Any] = {
        "account": key.account,
        "user": key.user,
        "database": key.database,
        "schema": key.schema,
        "warehouse": key.warehouse,
        "private_key": key_pair.der(),
        "application": APPLICATION,
        "internal_application_name": APPLICATION,
        "internal_application_version": __version__,
        "login_timeout": timeout,
        "network_timeout": timeout,
        "socket_timeout": timeout,
        # The default backoff sleeps up to 16 s between retries, well past login_timeout.
        "backoff_policy": exponential_backoff(cap=MAX_BACKOFF_SECONDS),
        "client_session_keep_alive": False,
        "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
    }
    if where is not None:
        params.update(host=where.host, port=where.port, protocol=where.protocol)
    return params


def open_connection(key: ConnectionKey, key_pair: KeyPair) -> SnowflakeConnection:
    """Log in to Snowflake (blocking) for ``key`` with ``key_pair``."""
    import snowflake.connector

    params = connection_parameters(key, key_pair, endpoint(), timeout_seconds())
    return snowflake.connector.connect(**params)


class ConnectionPool:
    """Thread-safe, bounded cache of open connections keyed by ``ConnectionKey``."""

    def __init__(
        self,
        connect: Callable[[ConnectionKey, KeyPair], SnowflakeConnection] = open_connection,
        max_size: int = MAX_CONNECTIONS,
    ) -> None:
        self._connect = connect
        self._max_size = max_size
        self._connections: OrderedDict[ConnectionKey, SnowflakeConnection] = OrderedDict()
        self._lock = threading.Lock()
        self.opened = 0
        """How many connections this pool has opened (logins), for tests and metrics."""

    def get(self, key: ConnectionKey, key_pair: KeyPair) -> SnowflakeConnection:
        """The open connection for ``key``, logging in on first use."""
        with self._lock:
            connection = self._connections.get(key)
            if connection is not None:
                self._connections.move_to_end(key)
                return connection
        built = self._connect(key, key_pair)
        evicted: list[SnowflakeConnection] = []
        with self._lock:
            self.opened += 1
            connection = self._connections.setdefault(key, built)
            self._connections.move_to_end(key)
            while len(self._connections) > self._max_size:
                evicted.append(self._connections.popitem(last=False)[1])
        if connection is not built:  # another thread logged in first
            evicted.append(built)
        _close_all(evicted)
        return connection

    def discard(self, key: ConnectionKey, connection: SnowflakeConnection) -> None:
        """Forget and close ``connection`` (its session is gone), if it is still cached."""
        with self._lock:
            if self._connections.get(key) is connection:
                del self._connections[key]
        _close_all([connection])

    def close(self) -> None:
        """Close every cached connection (the host is shutting down)."""
        with self._lock:
            connections = list(self._connections.values())
            self._connections.clear()
        _close_all(connections)

    def __len__(self) -> int:
        with self._lock:
            return len(self._connections)


def _close_all(connections: list[SnowflakeConnection]) -> None:
    for connection in connections:
        with contextlib.suppress(Exception):  # best effort: the session expires anyway
            connection.close()
