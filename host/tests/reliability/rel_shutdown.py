"""SIGTERM while calls are in flight: every call the server accepted completes, every other
call is refused without having started, and the server exits 0 within its grace period.

The server sends GOAWAY and closes its port at SIGTERM, so a late call normally fails to
connect (``UNAVAILABLE``); one that reached gRPC in the same instant as its shutdown is cancelled
by gRPC core before any handler sees it (``CANCELLED``). Both are refusals: no agent code ran.

``SteadyAgent`` (task type ``fault_steady``) writes ``start-<tag>`` and ``end-<tag>`` markers,
so a call cut mid-way shows as a start marker without an end marker."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from flyteidl.admin import agent_pb2

from agenthost.testing import RunningServer, make_template, wait_for


@dataclass
class ShutdownFigures:
    """How the calls around a SIGTERM ended."""

    in_flight: int = 0
    late: int = 0
    completed: int = 0
    refused_unstarted: int = 0
    cancelled_in_shutdown_race: int = 0
    cut_mid_way: list[str] = field(default_factory=list)
    other_errors: list[str] = field(default_factory=list)
    exit_code: int | None = None
    exit_seconds: float = 0.0


def _call(server: RunningServer, tag: str, seconds: float) -> Any:
    template = make_template("fault_steady", custom={"tag": tag, "seconds": seconds})
    return server.async_stub.CreateTask.future(
        agent_pb2.CreateTaskRequest(template=template), timeout=60
    )


def sigterm_under_load(
    server: RunningServer,
    markers: Path,
    *,
    in_flight: int = 64,
    late: int = 16,
    call_seconds: float = 1.5,
    grace: float,
) -> ShutdownFigures:
    """Start ``in_flight`` calls, wait until all started, SIGTERM, fire ``late`` more calls,
    and classify how every call ended."""
    figures = ShutdownFigures(in_flight=in_flight, late=late)
    calls = {
        f"inflight-{i}": _call(server, f"inflight-{i}", call_seconds) for i in range(in_flight)
    }
    wait_for(lambda: len(list(markers.glob("start-inflight-*"))) == in_flight, timeout=30)
    signalled = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    calls.update({f"late-{i}": _call(server, f"late-{i}", call_seconds) for i in range(late)})
    for tag, future in calls.items():
        started = (markers / f"start-{tag}").exists
        ended = (markers / f"end-{tag}").exists
        try:
            future.result(timeout=grace + 30)
        except grpc.RpcError as error:
            late = tag.startswith("late-")
            if error.code() == grpc.StatusCode.UNAVAILABLE and not started():
                figures.refused_unstarted += 1
            elif late and error.code() == grpc.StatusCode.CANCELLED and not started():
                figures.refused_unstarted += 1
                figures.cancelled_in_shutdown_race += 1
            elif started() and not ended():
                figures.cut_mid_way.append(f"{tag}: {error.code().name}")
            else:
                figures.other_errors.append(f"{tag}: {error.code().name} {error.details()}")
            continue
        if ended():
            figures.completed += 1
        else:
            figures.cut_mid_way.append(f"{tag}: answered OK without finishing")
    figures.exit_code = server.process.wait(timeout=grace + 30)
    figures.exit_seconds = time.monotonic() - signalled
    # A call that started but was never answered would be found here.
    for start in markers.glob("start-*"):
        if not (markers / ("end-" + start.name[len("start-") :])).exists():
            figures.cut_mid_way.append(f"{start.name}: no end marker")
    return figures
