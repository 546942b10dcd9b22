"""Helpers for the deployment tests: where the repository's deploy files are, and starting
``agenthost serve`` processes from any environment (and stopping them again)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agenthost.testing import SERVING_LINE_PREFIX, stop_process

REPO = Path(__file__).resolve().parents[2]
"""The repository root."""
CHART = REPO / "deploy" / "helm" / "agenthost"
"""The Helm chart."""


@dataclass
class Replica:
    """A running ``agenthost serve`` process."""

    process: subprocess.Popen[str]
    address: str
    lines: list[str] = field(default_factory=list, repr=False)

    @property
    def port(self) -> int:
        """The gRPC port it serves on."""
        return int(self.address.rsplit(":", 1)[1])

    def logs(self) -> str:
        """What it printed so far."""
        return "".join(self.lines)


def _pump(stream: Iterator[str], lines: list[str], ready: threading.Event) -> None:
    for line in stream:
        lines.append(line)
        if line.startswith(SERVING_LINE_PREFIX):
            ready.set()
    ready.set()


def start(
    command: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 60.0
) -> Replica:
    """Start ``command`` (an ``agenthost serve`` invocation) and wait for its serving line."""
    process = subprocess.Popen(
        list(command),
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    ready = threading.Event()
    assert process.stdout is not None
    threading.Thread(target=_pump, args=(process.stdout, lines, ready), daemon=True).start()
    serving = [line for line in lines if line.startswith(SERVING_LINE_PREFIX)]
    if ready.wait(timeout):
        serving = [line for line in lines if line.startswith(SERVING_LINE_PREFIX)]
    if not serving:
        stop_process(process)
        raise RuntimeError("agenthost serve did not start:\n" + "".join(lines)[-4000:])
    address = serving[0][len(SERVING_LINE_PREFIX) :].split()[0]
    return Replica(process=process, address=address, lines=lines)


@contextlib.contextmanager
def serving(command: Sequence[str], env: Mapping[str, str] | None = None) -> Iterator[Replica]:
    """``start`` as a context manager that stops and reaps the process on exit."""
    replica = start(command, env)
    try:
        yield replica
    finally:
        stop_process(replica.process)
