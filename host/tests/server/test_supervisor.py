"""The supervisor's restart step (``_tend``) and its loop's clean-up (``_run``), in process,
over real processes; the supervisor itself is tested through the CLI in ``test_metrics_listener`` and
``tests/deploy``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agenthost.server import supervisor
from agenthost.server.config import ServerConfig
from agenthost.server.supervisor import MAX_BACKOFF, _run, _tend, _Worker


class ForgetRecorder:
    """Stands in for the supervisor's metrics service: records which workers it forgot."""

    def __init__(self) -> None:
        self.forgotten: list[int] = []

    def forget(self, worker_index: int) -> None:
        self.forgotten.append(worker_index)


def exited_worker(index: int) -> _Worker:
    worker = _Worker(index, ServerConfig())
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"], text=True)
    process.wait(timeout=30)
    worker.process = process
    return worker


def test_a_dead_workers_gauges_go_when_its_death_is_noticed_not_at_its_restart() -> None:
    worker = exited_worker(1)
    worker.quick_failures = 3  # crash-looping: the restart waits out a backoff
    metrics = ForgetRecorder()
    restart_at: dict[int, float] = {}

    assert _tend(worker, 100.0, restart_at, True, metrics)  # type: ignore[arg-type]

    assert restart_at[1] > 100.0  # not restarted yet
    assert metrics.forgotten == [1]
    dead = worker.process
    assert _tend(worker, 100.0, restart_at, True, metrics)  # type: ignore[arg-type]
    assert metrics.forgotten == [1]  # once per death
    assert worker.process is dead


def test_a_worker_that_crash_loops_for_hours_keeps_the_max_backoff() -> None:
    """Once serving, a worker that keeps failing at start is restarted for ever, every
    ``MAX_BACKOFF`` seconds. The back-off was ``0.1 * 2**failures``: after 1,024 failures (about
    three hours at 10 s) that no longer fits a float, and the supervisor died of an
    ``OverflowError``, taking the healthy workers down with it."""
    worker = exited_worker(0)
    worker.quick_failures = 1023  # this exit is the 1,024th in a row
    restart_at: dict[int, float] = {}

    assert _tend(worker, 100.0, restart_at, True, None)

    assert restart_at[0] == 100.0 + MAX_BACKOFF
    assert worker.quick_failures == 1024


class SleepingWorker(_Worker):
    """A worker slot whose process only sleeps (a stand-in for a serving worker)."""

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(120)"], text=True
        )
        self.ready.set()


@pytest.mark.parametrize("error", [RuntimeError("bug in the supervisor"), KeyboardInterrupt()])
def test_workers_are_stopped_however_the_supervising_loop_ends(
    monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    """An exception out of the supervising loop (a bug, or a ``KeyboardInterrupt`` outside
    the signal handler) left the workers running: ``_run`` stopped them only on its normal
    returns."""

    def broken_tend(*args: object) -> bool:
        raise error

    monkeypatch.setattr(supervisor, "_tend", broken_tend)
    workers: list[_Worker] = [SleepingWorker(i, ServerConfig()) for i in range(2)]
    try:
        with pytest.raises(type(error)):
            _run(ServerConfig(workers=2, grace_period=1), workers, None, [])
        for worker in workers:
            assert worker.process is not None
            assert worker.process.poll() is not None  # stopped and waited for
    finally:
        for worker in workers:
            if worker.process is not None and worker.process.poll() is None:
                worker.process.kill()
                worker.process.wait()
