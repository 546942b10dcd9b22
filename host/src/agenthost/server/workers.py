"""``--workers N``: N server processes sharing one port through ``SO_REUSEPORT``, supervised.

The supervisor refuses a port another process listens on (``agenthost.server.ports``), picks
the port first (if ``--port 0``), starts each worker with
``python -m agenthost.server.workers`` and the configuration in ``AGENTHOST_WORKER_CONFIG``,
prints ``agenthost serving on HOST:PORT`` once every worker is serving, restarts a worker that
exits unexpectedly (with a growing back-off if it keeps crashing at start), forwards
SIGTERM/SIGINT to the workers one after another (``STOP_STAGGER`` apart; workers run in their
own session, so only the supervisor signals them) and exits 0 once they have all stopped, or
after ``--timeout``. A worker stops by itself if its supervisor disappears.

Metrics: the supervisor alone serves ``--metrics-port``; the workers record into a private
directory of multiprocess files that it merges at every scrape (``metrics_shared``). The
directory is removed when the supervisor exits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

from agenthost.server.app import SERVING_PREFIX, ServerConfig
from agenthost.server.ports import bind_problem

CONFIG_ENV = "AGENTHOST_WORKER_CONFIG"
"""Environment variable carrying a worker's configuration as JSON."""

MAX_BACKOFF = 10.0
STARTUP_FAILURES_BEFORE_GIVING_UP = 5
STOP_STAGGER = 0.25
"""Seconds between stopping one worker and the next. A stopping worker sends its clients
away (GOAWAY); they reconnect to a sibling on the same port, and must be fully connected there
before the sibling stops in turn: gRPC cancels calls on a connection that is still being set
up when its server stops."""

logger = logging.getLogger("agenthost.server.workers")


def _bind(host: str, port: int) -> int:
    """Bind ``host``:``port`` (without ``SO_REUSEPORT``) and let go; the bound port. Raises
    ``OSError`` if another process listens there."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    bind_host = host.strip("[]")
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((bind_host, port))
        return int(sock.getsockname()[1])


def _free_port(host: str) -> int:
    return _bind(host, 0)


def _health_port_is_free(config: ServerConfig) -> bool:
    """Whether nobody listens on ``--health-port`` (the workers will share it through
    ``SO_REUSEPORT``, which would not notice another server there); prints why not."""
    if not config.health_port:
        return True
    try:
        _bind(config.health_bind_host, config.health_port)
    except OSError as exc:
        from agenthost.server.listeners import refuse_port

        address = f"{config.health_bind_host}:{config.health_port}"
        refuse_port("--health-port", config.health_port, address, exc.strerror or str(exc))
        return False
    return True


def config_to_json(config: ServerConfig) -> str:
    """The configuration as JSON (paths as strings)."""
    data = dataclasses.asdict(config)
    for key, value in data.items():
        if isinstance(value, Path):
            data[key] = str(value)
    return json.dumps(data)


def config_from_json(text: str) -> ServerConfig:
    """The inverse of ``config_to_json``."""
    data = json.loads(text)
    for key in ("tls_cert", "tls_key", "tls_client_ca"):
        if data.get(key) is not None:
            data[key] = Path(data[key])
    if "protocols" in data:
        data["protocols"] = tuple(data["protocols"])
    return ServerConfig(**data)


class _Worker:
    """One worker process slot: its process, restarts and readiness."""

    def __init__(self, index: int, config: ServerConfig) -> None:
        self.index = index
        self.config = dataclasses.replace(config, worker_index=index, reuse_port=True, workers=1)
        self.process: subprocess.Popen[str] | None = None
        self.started_at = 0.0
        self.ready = threading.Event()
        self.quick_failures = 0

    def start(self) -> None:
        env = {**os.environ, CONFIG_ENV: config_to_json(self.config), "PYTHONUNBUFFERED": "1"}
        self.ready.clear()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "agenthost.server.workers"],
            env=env,
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            # Signals come from the supervisor only, in the order it chooses (``_stop_all``),
            # even when the whole process group of the supervisor is signalled.
            start_new_session=True,
        )
        self.started_at = time.monotonic()
        assert self.process.stdout is not None
        threading.Thread(
            target=self._relay, args=(self.process.stdout, self.process.pid), daemon=True
        ).start()

    def _relay(self, stream: IO[str], pid: int) -> None:
        for line in stream:
            if line.startswith(SERVING_PREFIX):
                print(f"agenthost worker {self.index} pid {pid} serving", flush=True)
                self.ready.set()
            else:
                sys.stdout.write(line)
                sys.stdout.flush()


class _MetricsService:
    """The supervisor's ``/metrics``: the workers' multiprocess files, merged, served from an
    event loop in one daemon thread."""

    def __init__(self, workers: list[_Worker]) -> None:
        from agenthost.server.metrics_shared import supervisor_registry

        self.directory = tempfile.mkdtemp(prefix="agenthost-metrics-")
        self.registry = supervisor_registry(self.directory, lambda: _pids(workers))
        self.loop = asyncio.new_event_loop()
        threading.Thread(
            target=self.loop.run_forever, name="agenthost-metrics", daemon=True
        ).start()

    def start(self, config: ServerConfig) -> bool:
        """Listen on ``--metrics-port``; False (after printing why) if it cannot."""
        from agenthost.server.listeners import start_metrics_listener

        running = asyncio.run_coroutine_threadsafe(
            start_metrics_listener(self.registry, config), self.loop
        )
        return running.result() is not None

    def forget(self, worker_index: int) -> None:
        """Drop the live gauges of a worker that exited."""
        from agenthost.server.metrics_shared import forget_worker

        forget_worker(self.directory, worker_index)

    def close(self) -> None:
        """Stop serving and remove the directory."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        shutil.rmtree(self.directory, ignore_errors=True)


def _pids(workers: list[_Worker]) -> dict[str, int]:
    """The supervisor's pid and those of the workers not known to have exited (read from the
    metrics thread: no ``poll()``, which belongs to the supervising loop)."""
    pids = {"supervisor": os.getpid()}
    for worker in workers:
        process = worker.process
        if process is not None and process.returncode is None:
            pids[str(worker.index)] = process.pid
    return pids


def supervise(config: ServerConfig) -> int:
    """Run ``config.workers`` workers until SIGTERM/SIGINT; return the exit code."""
    if config.port:
        problem = bind_problem(config.host, config.port)
        if problem is not None:
            print(f"agenthost serve: {problem}", file=sys.stderr, flush=True)
            return 1
    port = config.port or _free_port(config.host)
    config = dataclasses.replace(config, port=port)
    workers: list[_Worker] = []
    metrics = _MetricsService(workers) if config.metrics_port else None
    try:
        if not _health_port_is_free(config):
            return 1
        if metrics is not None:
            if not metrics.start(config):
                return 1
            config = dataclasses.replace(config, metrics_dir=metrics.directory)
        workers.extend(_Worker(i, config) for i in range(config.workers))
        return _run(config, workers, metrics)
    finally:
        if metrics is not None:
            metrics.close()


def _run(config: ServerConfig, workers: list[_Worker], metrics: _MetricsService | None) -> int:
    stopping = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for worker in workers:
        worker.start()

    announced = False
    restart_at: dict[int, float] = {}
    stop_at = time.monotonic() + config.run_for if config.run_for is not None else None
    while not stopping.is_set():
        if stop_at is not None and time.monotonic() >= stop_at:
            break
        if not announced and all(w.ready.is_set() for w in workers):
            print(f"{SERVING_PREFIX} {config.host}:{config.port}", flush=True)
            announced = True
        now = time.monotonic()
        for worker in workers:
            process = worker.process
            assert process is not None
            code = process.poll()
            if code is None or stopping.is_set():
                continue
            if worker.index not in restart_at:
                quick = not worker.ready.is_set() or now - worker.started_at < 1.0
                worker.quick_failures = worker.quick_failures + 1 if quick else 0
                if not announced and worker.quick_failures >= STARTUP_FAILURES_BEFORE_GIVING_UP:
                    logger.error("worker %d keeps failing at start; giving up", worker.index)
                    _stop_all(workers)
                    _wait_all(workers, config.grace_period)
                    return 1
                delay = min(MAX_BACKOFF, 0.1 * 2**worker.quick_failures) if quick else 0.0
                logger.warning(
                    "worker %d (pid %d) exited with code %d; restarting in %.1f s",
                    worker.index,
                    process.pid,
                    code,
                    delay,
                )
                restart_at[worker.index] = now + delay
            if now >= restart_at[worker.index]:
                del restart_at[worker.index]
                if metrics is not None:
                    metrics.forget(worker.index)
                worker.start()
        stopping.wait(0.1)
    _stop_all(workers)
    _wait_all(workers, config.grace_period)
    return 0


def _stop_all(workers: list[_Worker]) -> None:
    """SIGTERM the live workers one after another, ``STOP_STAGGER`` seconds apart."""
    live = [w.process for w in workers if w.process is not None and w.process.poll() is None]
    for position, process in enumerate(live):
        if position:
            time.sleep(STOP_STAGGER)
        process.send_signal(signal.SIGTERM)


def _wait_all(workers: list[_Worker], grace_period: float) -> None:
    deadline = time.monotonic() + grace_period + 5.0
    for worker in workers:
        process = worker.process
        if process is None:
            continue
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    """Entry point of a worker process."""
    from agenthost.server.app import _exit_despite_stuck_agents, run_loop, serve_async
    from agenthost.server.logs import configure_logging

    config = config_from_json(os.environ[CONFIG_ENV])
    configure_logging(config.log_level, config.log_format)
    code = run_loop(serve_async(config, parent_pid=os.getppid()))
    _exit_despite_stuck_agents(code)
    sys.exit(code)


if __name__ == "__main__":
    main()
