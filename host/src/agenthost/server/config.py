"""``ServerConfig``: everything ``agenthost serve`` can be told, its validation, and its JSON
form (how the ``--workers`` supervisor hands a worker its configuration, in ``CONFIG_ENV``)."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from agenthost.server.event_loop import event_loop_problem
from agenthost.server.limits import (
    DEFAULT_HANDSHAKE_TIMEOUT,
    DEFAULT_MAX_CONCURRENT_RPCS,
    DEFAULT_MAX_CONNECTION_AGE,
    DEFAULT_MAX_CONNECTION_AGE_GRACE,
    DEFAULT_MAX_CONNECTION_IDLE,
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_MAX_PENDING_CALLS,
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_READ_TIMEOUT,
)

PROTOCOLS = ("v1", "v2")
"""The protocols ``--protocols`` may name: v1 (flyteidl agent services, Flyte 1) and v2
(flyteidl2 connector services, Flyte 2)."""

CONFIG_ENV = "AGENTHOST_WORKER_CONFIG"
"""Environment variable carrying a worker's configuration as JSON (``ServerConfig.to_json``)."""

SUPERVISOR_PID_ENV = "AGENTHOST_SUPERVISOR_PID"
"""Environment variable carrying the pid of the supervisor that started a worker."""

_PATHS = ("tls_cert", "tls_key", "tls_client_ca")
_DURATIONS = (
    "grace_period",
    "max_connection_age",
    "max_connection_age_grace",
    "run_for",
    "read_timeout",
    "handshake_timeout",
    "max_connection_idle",
    "worker_start_timeout",
)
_AT_LEAST_ONE = (
    "agent_concurrency",
    "max_threads",
    "max_message_size",
    "max_request_bytes",
    "max_pending_calls",
)


DEFAULT_WORKER_START_TIMEOUT = 120.0
"""Default of ``--worker-start-timeout``: ample for plugins that import large SDKs on a slow
node, short enough that a worker whose plugin import hangs does not go unnoticed."""

FEW_READS = 4
"""Below this many concurrent request reads (``--max-request-bytes // --max-message-size``; 8
with the defaults), the server warns at start (``ServerConfig.cautions``)."""


def bracket_ipv6(host: str) -> str:
    """``host`` with brackets if it is a bare IPv6 address (``::1`` -> ``[::1]``), as
    ``HOST:PORT`` needs them; any other host as it is."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _option(name: str) -> str:
    """The ``serve`` option of a ``ServerConfig`` field, without its dashes."""
    return name.replace("_", "-")


@dataclass
class ServerConfig:
    """Everything ``agenthost serve`` can be told (see ``agenthost.cli.serve``)."""

    host: str = "[::]"
    port: int = 8000
    metrics_port: int = 9090
    metrics_host: str | None = None
    health_port: int = 0
    health_host: str | None = None
    allow: list[str] | None = None
    block: list[str] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    strict: bool = False
    max_concurrent_rpcs: int | None = DEFAULT_MAX_CONCURRENT_RPCS
    agent_concurrency: int | None = None
    max_threads: int | None = None
    max_message_size: int = DEFAULT_MAX_MESSAGE_BYTES
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    read_timeout: float = DEFAULT_READ_TIMEOUT
    handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT
    max_connection_idle: float = DEFAULT_MAX_CONNECTION_IDLE
    max_pending_calls: int = DEFAULT_MAX_PENDING_CALLS
    grace_period: float = 15.0
    max_connection_age: float = DEFAULT_MAX_CONNECTION_AGE
    max_connection_age_grace: float = DEFAULT_MAX_CONNECTION_AGE_GRACE
    run_for: float | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    log_level: str = "INFO"
    log_format: str = "text"
    workers: int = 1
    worker_start_timeout: float = DEFAULT_WORKER_START_TIMEOUT
    """Seconds a ``--workers`` worker has to start serving before the supervisor kills it."""
    event_loop: str = "auto"
    loop_block_threshold: float = 0.5
    reuse_port: bool = False
    worker_index: int | None = None
    protocols: tuple[str, ...] = PROTOCOLS
    metrics_dir: str | None = None
    """Set by the supervisor for its workers: where they record metrics (``metrics_shared``)."""

    def __post_init__(self) -> None:
        # An IPv6 address given bare (``--host ::1``) is bracketed: grpc reads ``::1:8000`` as
        # a name to resolve, and every ``HOST:PORT`` printed must be one a client can dial.
        self.host = bracket_ipv6(self.host)
        if self.metrics_host is not None:
            self.metrics_host = bracket_ipv6(self.metrics_host)
        if self.health_host is not None:
            self.health_host = bracket_ipv6(self.health_host)

    @property
    def metrics_bind_host(self) -> str:
        """Where ``/metrics`` listens: ``metrics_host``, else the gRPC ``host``."""
        return self.metrics_host if self.metrics_host is not None else self.host

    @property
    def health_bind_host(self) -> str:
        """Where the plaintext health listener listens: ``health_host``, else ``host``."""
        return self.health_host if self.health_host is not None else self.host

    @property
    def supervised(self) -> bool:
        """Whether this configuration asks for a supervisor of ``--workers`` processes (and is
        not already one of its workers)."""
        return self.workers > 1 and self.worker_index is None

    def validate(self) -> list[str]:
        """Problems with the configuration, one line each."""
        return (
            self._tls_problems()
            + self._serving_problems()
            + self._duration_problems()
            + self._limit_problems()
            + self._port_problems()
        )

    def cautions(self) -> list[str]:
        """Settings that are valid but weaken the server, one line each (logged as warnings
        at start)."""
        reads = self.max_request_bytes // max(1, self.max_message_size)
        if reads >= FEW_READS:
            return []
        return [
            f"--max-request-bytes {self.max_request_bytes} lets only {max(1, reads)} request(s) "
            f"of up to --max-message-size {self.max_message_size} be read at once; a client "
            "that opens agent calls and sends nothing holds each such read for up to "
            f"--read-timeout ({self.read_timeout:g} s), delaying every other agent call. Keep "
            f"the budget at least {FEW_READS} times the message size"
        ]

    def _tls_problems(self) -> list[str]:
        problems = []
        if (self.tls_cert is None) != (self.tls_key is None):
            problems.append("--tls-cert and --tls-key must be given together")
        if self.tls_client_ca is not None and self.tls_cert is None:
            problems.append("--tls-client-ca needs --tls-cert and --tls-key")
        missing = False
        for name in _PATHS:
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                problems.append(f"--{_option(name)} {path}: no such file")
                missing = True
        if self.tls_cert is not None and self.tls_key is not None and not missing:
            from agenthost.server.tls import tls_file_problems

            problems += tls_file_problems(
                Path(self.tls_cert),
                Path(self.tls_key),
                self.tls_client_ca and Path(self.tls_client_ca),
            )
        return problems

    def _serving_problems(self) -> list[str]:
        problems = []
        unknown = [p for p in self.protocols if p not in PROTOCOLS]
        if unknown or not self.protocols:
            problems.append(
                f"--protocols must name one or more of {', '.join(PROTOCOLS)} "
                f"(got {','.join(self.protocols) or 'nothing'})"
            )
        if self.workers < 1:
            problems.append("--workers must be at least 1")
        loop_problem = event_loop_problem(self.event_loop)
        if loop_problem:
            problems.append(loop_problem)
        return problems

    def _duration_problems(self) -> list[str]:
        # nan passes every comparison below and inf overflows grpc's millisecond options and
        # the event loop's timers (a traceback at start or at shutdown): name them instead.
        odd = {
            name
            for name in _DURATIONS
            if getattr(self, name) is not None and not math.isfinite(getattr(self, name))
        }
        problems = [
            f"--{'timeout' if name == 'run_for' else _option(name)} must be a finite number of "
            f"seconds (got {getattr(self, name)})"
            for name in _DURATIONS
            if name in odd
        ]
        problems += [
            f"--{_option(name)} must not be negative"
            for name in ("grace_period", "max_connection_age", "max_connection_age_grace")
            if name not in odd and getattr(self, name) < 0
        ]
        if "run_for" not in odd and self.run_for is not None and self.run_for <= 0:
            problems.append("--timeout must be positive")
        problems += [
            f"--{_option(name)} must be positive"
            for name in ("read_timeout", "handshake_timeout", "worker_start_timeout")
            if name not in odd and getattr(self, name) <= 0
        ]
        if "max_connection_idle" not in odd and self.max_connection_idle < 0:
            problems.append("--max-connection-idle must not be negative (0: never close)")
        return problems

    def _limit_problems(self) -> list[str]:
        problems = []
        if self.max_concurrent_rpcs is not None and self.max_concurrent_rpcs < 0:
            problems.append("--max-concurrent-rpcs must not be negative (0: no limit)")
        for name in _AT_LEAST_ONE:
            value = getattr(self, name)
            if value is not None and value < 1:
                problems.append(f"--{_option(name)} must be at least 1")
        return problems

    def _port_problems(self) -> list[str]:
        ports = {"--port": self.port, "--metrics-port": self.metrics_port}
        ports["--health-port"] = self.health_port
        problems = [
            f"{name} {value} is not a port number (0-65535)"
            for name, value in ports.items()
            if not 0 <= value <= 65535
        ]
        named = [(n, v) for n, v in ports.items() if v]
        for i, (name, value) in enumerate(named):
            for other, other_value in named[i + 1 :]:
                if value == other_value:
                    problems.append(f"{name} and {other} are both {value}")
        return problems

    def to_json(self) -> str:
        """The configuration as JSON (paths as strings)."""
        data = dataclasses.asdict(self)
        for key in _PATHS:
            if data[key] is not None:
                data[key] = str(data[key])
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> ServerConfig:
        """The inverse of ``to_json``."""
        data = json.loads(text)
        for key in _PATHS:
            if data.get(key) is not None:
                data[key] = Path(data[key])
        if "protocols" in data:
            data["protocols"] = tuple(data["protocols"])
        return cls(**data)
