"""``--workers N``: N server processes sharing one port through ``SO_REUSEPORT``, supervised.

The supervisor refuses a port another process listens on (``agenthost.server.ports``), picks
the port first (if ``--port 0``), keeps it bound while it runs so that nothing else takes it
before the workers bind it (``hold_port``), starts each worker with
``python -m agenthost.server.worker`` and the configuration in ``AGENTHOST_WORKER_CONFIG``,
prints ``agenthost serving on HOST:PORT`` once every worker is serving, kills a worker not
serving ``--worker-start-timeout`` seconds after its start (a plugin import that hangs),
restarts a worker that exits unexpectedly (with a growing back-off if it keeps crashing at
start, giving up if that happens before the server was announced), forwards
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
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import IO, Any

from agenthost.server.config import CONFIG_ENV, SUPERVISOR_PID_ENV, ServerConfig
from agenthost.server.listeners import port_refused, start_metrics_listener
from agenthost.server.ports import bind_error, bind_problem, hold_port, pick_and_hold
from agenthost.server.process import (
    SERVING_PREFIX,
    StartupError,
    announce_serving,
    report_error,
)

WORKER_MODULE = "agenthost.server.worker"
"""What each worker process runs (``python -m``)."""

MAX_BACKOFF = 10.0
STARTUP_FAILURES_BEFORE_GIVING_UP = 5
STOP_STAGGER = 0.25
"""Seconds between stopping one worker and the next. A stopping worker sends its clients
away (GOAWAY); they reconnect to a sibling on the same port, and must be fully connected there
before the sibling stops in turn: gRPC cancels calls on a connection that is still being set
up when its server stops."""

logger = logging.getLogger("agenthost.server.workers")


def _check_health_port(config: ServerConfig) -> None:
    """Raise ``StartupError`` if another process listens on ``--health-port`` (the workers
    will share it through ``SO_REUSEPORT``, which would not notice another server there)."""
    error = bind_error(config.health_bind_host, config.health_port) if config.health_port else None
    if error is not None:
        address = f"{config.health_bind_host}:{config.health_port}"
        reason = error.strerror or str(error)
        raise port_refused("--health-port", config.health_port, address, reason)


class _Worker:
    """One worker process slot: its process, restarts and readiness."""

    def __init__(self, index: int, config: ServerConfig) -> None:
        self.index = index
        self.config = dataclasses.replace(config, worker_index=index, reuse_port=True, workers=1)
        self.process: subprocess.Popen[str] | None = None
        self.started_at = 0.0
        self.ready = threading.Event()
        self.quick_failures = 0
        self.killed = False

    def start(self) -> None:
        env = {
            **os.environ,
            CONFIG_ENV: self.config.to_json(),
            SUPERVISOR_PID_ENV: str(os.getpid()),
            "PYTHONUNBUFFERED": "1",
        }
        self.ready.clear()
        self.killed = False
        self.process = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE],
            env=env,
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            # A plugin may print anything: a strict decoder would end the relay at the first
            # byte that is not UTF-8, and with it the serving line and the pipe's reading.
            errors="backslashreplace",
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

    def start(self, config: ServerConfig) -> None:
        """Listen on ``--metrics-port``; ``StartupError`` if it cannot."""
        running = asyncio.run_coroutine_threadsafe(
            start_metrics_listener(self.registry, config), self.loop
        )
        running.result()

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
    problem = bind_problem(config.host, config.port) if config.port else None
    if problem is not None:
        report_error(problem)
        return 1
    # Bound until the supervisor exits: nothing else can take the port before the workers
    # bind it (with --port 0 they once did so only after the port had been free for seconds).
    if config.port:
        held = [hold_port(config.host, config.port)]
    else:
        port, picked = pick_and_hold(config.host)
        held = [picked]
        config = dataclasses.replace(config, port=port)
    # Before anything needs cleaning up: a SIGTERM while the metrics directory existed and the
    # handler did not yet killed the supervisor and left the directory behind.
    signals = _record_signals()
    workers: list[_Worker] = []
    metrics = _MetricsService(workers) if config.metrics_port else None
    try:
        _check_health_port(config)
        if config.health_port:  # shared by the workers too
            held.append(hold_port(config.health_bind_host, config.health_port))
        if metrics is not None:
            metrics.start(config)
            config = dataclasses.replace(config, metrics_dir=metrics.directory)
        workers.extend(_Worker(i, config) for i in range(config.workers))
        return _run(config, workers, metrics, signals)
    except StartupError as exc:
        report_error(exc)
        return 1
    finally:
        if metrics is not None:
            metrics.close()
        for sock in held:
            if sock is not None:
                sock.close()


def _record_signals() -> list[int]:
    """From now on, SIGTERM and SIGINT are appended to the list returned."""
    # A signal handler must take no lock the code it interrupts may hold: ``Event.set`` does,
    # and a second SIGTERM arriving inside the first handler's ``set`` deadlocked the supervisor.
    signals: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        signals.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return signals


def _run(
    config: ServerConfig,
    workers: list[_Worker],
    metrics: _MetricsService | None,
    signals: list[int],
) -> int:
    """Start the workers, tend them until a signal, ``--timeout`` or giving up; the exit code.
    However this ends (an exception too), the workers are stopped and waited for."""
    if signals:  # stopped while starting
        return 0
    try:
        for worker in workers:
            worker.start()
        return _supervise_loop(config, workers, metrics, signals)
    finally:
        _stop_all(workers)
        _wait_all(workers, config.grace_period)


def _supervise_loop(
    config: ServerConfig,
    workers: list[_Worker],
    metrics: _MetricsService | None,
    signals: list[int],
) -> int:
    announced = False
    restart_at: dict[int, float] = {}
    stop_at = time.monotonic() + config.run_for if config.run_for is not None else None
    while not signals:
        if stop_at is not None and time.monotonic() >= stop_at:
            break
        if not announced and all(w.ready.is_set() for w in workers):
            announce_serving(f"{config.host}:{config.port}")
            announced = True
        now = time.monotonic()
        for worker in workers:
            if signals:
                break
            if not _tend(worker, now, restart_at, announced, metrics):
                return 1
        time.sleep(0.1)
    return 0


def _tend(
    worker: _Worker,
    now: float,
    restart_at: dict[int, float],
    announced: bool,
    metrics: _MetricsService | None,
) -> bool:
    """Restart ``worker`` if it exited, once its backoff (``restart_at``) has passed: none
    after a long run, growing while it keeps failing quickly. Kill it if it is not serving
    ``--worker-start-timeout`` seconds after its start (its exit is then such a failure).
    False if it keeps failing at start before the server was announced: then the supervisor
    gives up."""
    process = worker.process
    assert process is not None
    code = process.poll()
    if code is None:
        timeout = worker.config.worker_start_timeout
        if not worker.ready.is_set() and not worker.killed and now - worker.started_at > timeout:
            logger.error(
                "worker %d (pid %d) is not serving %g s after its start "
                "(--worker-start-timeout); killing it",
                worker.index,
                process.pid,
                timeout,
            )
            # Not waited for here: a process stuck in the kernel (a hung network mount) may
            # take a while to go; the next rounds see its exit.
            process.kill()
            worker.killed = True
        return True
    if worker.index not in restart_at:
        quick = not worker.ready.is_set() or now - worker.started_at < 1.0
        worker.quick_failures = worker.quick_failures + 1 if quick else 0
        if not announced and worker.quick_failures >= STARTUP_FAILURES_BEFORE_GIVING_UP:
            logger.error("worker %d keeps failing at start; giving up", worker.index)
            return False
        # The exponent is capped: 2**1024 does not fit a float (a worker that crash-loops for
        # hours once it is serving is restarted for ever).
        delay = min(MAX_BACKOFF, 0.1 * 2 ** min(worker.quick_failures, 16)) if quick else 0.0
        logger.warning(
            "worker %d (pid %d) exited with code %d; restarting in %.1f s",
            worker.index,
            process.pid,
            code,
            delay,
        )
        restart_at[worker.index] = now + delay
        if metrics is not None:  # its calls ended with it, not when it restarts
            metrics.forget(worker.index)
    if now >= restart_at[worker.index]:
        del restart_at[worker.index]
        worker.start()
    return True


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
