"""Per-task credentials: the ``connection`` a Flyte 2 executor sends with every call.

A Flyte 2 ``CreateTask``, ``GetTask`` or ``DeleteTask`` carries a ``connection`` with the
secret *values* the executor resolved for the task and free-form configs. The host hands it
to agents in two ways:

- an agent method (``create``, ``get``, ``delete``, ``do``, ``poke``, ``get_logs``,
  ``get_metrics``) that declares a keyword parameter ``connection`` receives the call's
  ``Connection`` (empty for Flyte 1 calls); methods that do not declare it never see it;
- ``agenthost.get_secret(key)`` looks at the current call's connection secrets first, and
  ``current_connection()`` returns the whole connection, in ``async def`` methods as well as in
  blocking ones the host runs in its thread pool.

While a call runs, its connection is current for the whole call (the agent method, the
mapping of its errors and every log line), and the server's scrubber replaces the current
connection's secret values with ``***`` in status details, ``Resource.message`` and logs, as
it does the deployment's secrets. Per-task values are not remembered beyond their call, so
many distinct tasks' credentials never accumulate in the process. The host refuses a
``resource_meta`` that contains one. ``repr`` shows keys, never values.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType

_EMPTY_MAPPING: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class Connection:
    """The per-task ``secrets`` (values) and ``configs`` of a call, as read-only mappings;
    both are empty for Flyte 1 calls and when the executor sends none."""

    secrets: Mapping[str, str] = field(default_factory=lambda: _EMPTY_MAPPING)
    configs: Mapping[str, str] = field(default_factory=lambda: _EMPTY_MAPPING)

    def __post_init__(self) -> None:
        for name in ("secrets", "configs"):
            value = getattr(self, name)
            if not isinstance(value, MappingProxyType):
                object.__setattr__(self, name, MappingProxyType(dict(value)))

    def __repr__(self) -> str:
        secrets = ", ".join(f"{k}=***" for k in sorted(self.secrets))
        return f"Connection(secrets={{{secrets}}}, configs={dict(self.configs)!r})"

    def __hash__(self) -> int:
        return hash((tuple(sorted(self.secrets.items())), tuple(sorted(self.configs.items()))))

    def __bool__(self) -> bool:
        return bool(self.secrets or self.configs)


EMPTY_CONNECTION = Connection()
"""The connection of calls that carry none (every Flyte 1 call)."""

_current: contextvars.ContextVar[Connection] = contextvars.ContextVar(
    "agenthost_connection", default=EMPTY_CONNECTION
)


def current_connection() -> Connection:
    """The current call's ``Connection`` (empty outside a call and for Flyte 1 calls)."""
    return _current.get()


def set_current_connection(connection: Connection) -> contextvars.Token[Connection]:
    """Make ``connection`` the current one; give the token to ``reset_current_connection``."""
    return _current.set(connection)


def reset_current_connection(token: contextvars.Token[Connection]) -> None:
    """Undo the ``set_current_connection`` that returned ``token``."""
    _current.reset(token)


@contextmanager
def using_connection(connection: Connection | None) -> Iterator[None]:
    """Make ``connection`` the current one for the duration of the block (the host wraps each
    agent call in it; None changes nothing)."""
    if connection is None:
        yield
        return
    token = _current.set(connection)
    try:
        yield
    finally:
        _current.reset(token)


def leaked_secret(connection: Connection | None, data: bytes) -> str | None:
    """The key of a secret of ``connection`` whose value appears in ``data``, if any."""
    if not connection:
        return None
    for key, value in connection.secrets.items():
        if len(value) >= 4 and value.encode("utf-8") in data:
            return key
    return None
