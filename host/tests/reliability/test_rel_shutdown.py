"""SIGTERM while 64 calls are in flight (plus 16 arriving after the signal)."""

from __future__ import annotations

from pathlib import Path

from rel_shutdown import sigterm_under_load
from reliability_kit import record, rel_server

GRACE = 20.0


def test_sigterm_with_64_calls_in_flight(markers: Path) -> None:
    with rel_server(markers, "--grace-period", str(GRACE)) as server:
        figures = sigterm_under_load(server, markers, grace=GRACE)
    record("shutdown", "calls in flight at SIGTERM", figures.in_flight)
    record("shutdown", "calls sent after SIGTERM", figures.late)
    record("shutdown", "completed", figures.completed)
    record("shutdown", "refused before starting", figures.refused_unstarted)
    record("shutdown", "of which CANCELLED by gRPC", figures.cancelled_in_shutdown_race)
    record("shutdown", "cut mid-way", len(figures.cut_mid_way))
    record("shutdown", "exit code / seconds", f"{figures.exit_code} / {figures.exit_seconds:.1f}")
    assert figures.cut_mid_way == []
    assert figures.other_errors == []
    assert figures.completed >= figures.in_flight
    assert figures.completed + figures.refused_unstarted == figures.in_flight + figures.late
    assert figures.exit_code == 0
    assert figures.exit_seconds < GRACE
