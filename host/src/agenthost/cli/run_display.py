"""What ``agenthost run`` shows: the live status line on stderr (one line per change when
stderr is not a terminal), the final phase, and the outputs on stdout (JSON or a table)."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import enum
import json
import sys
import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from agenthost.run.lifecycle import RunResult, Status

EXIT_SUCCEEDED = 0
EXIT_FAILED = 1


class Display:
    """The status line: live on a terminal, one line per change otherwise."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live_mode = console.is_terminal
        self.started = time.monotonic()
        self.status: Status | None = None
        self.seen_links: set[tuple[str, str]] = set()
        self._last: tuple[int, str] | None = None
        self._live: Live | None = None

    def start(self) -> None:
        """Begin showing the live line (terminals only)."""
        if self.live_mode and self._live is None:
            self._live = Live(self, console=self.console, refresh_per_second=8, transient=True)
            self._live.start()

    def stop(self) -> None:
        """Remove the live line."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    def note(self, text: str) -> None:
        """Print a one-off line above the status line."""
        self.console.print(text, markup=False, highlight=False)

    def update(self, status: Status) -> None:
        """Record a new status; print new log links, and a line if it changed (no TTY)."""
        self.status = status
        for link in status.log_links:
            key = (link.name, link.uri)
            if key not in self.seen_links:
                self.seen_links.add(key)
                self.note(f"  log: {link.name or 'link'}: {link.uri}")
        if not self.live_mode and self._last != (status.phase, status.message):
            self._last = (status.phase, status.message)
            self.note(self._line(status, status.elapsed))

    @staticmethod
    def _line(status: Status, elapsed: float) -> str:
        message = f"  {status.message}" if status.message else ""
        return f"[{elapsed:6.1f}s] {status.phase_name}{message}"

    def __rich__(self) -> Any:
        """The live line: a spinner, the time so far and the latest status."""
        elapsed = time.monotonic() - self.started
        if self.status is None:
            return Spinner("dots", text=Text(f"[{elapsed:6.1f}s] starting"), style="cyan")
        # Text, not str: a task's message is shown as written, never read as markup.
        return Spinner("dots", text=Text(self._line(self.status, elapsed)), style="cyan")


def report(err: Console, result: RunResult, output: str) -> int:
    """Print the final phase (stderr) and the outputs (stdout); return the exit code."""
    last = result.statuses[-1].elapsed if result.statuses else 0.0
    message = f": {result.message}" if result.message else ""
    err.print(f"{result.phase_name} after {last:.1f}s{message}", markup=False)
    if not result.succeeded:
        return EXIT_FAILED
    try:
        outputs = result.outputs
    except Exception as exc:
        err.print(f"error: cannot decode the outputs: {exc}", markup=False)
        return EXIT_FAILED
    if output == "table":
        table = Table("output", "value")
        for name, value in outputs.items():
            # Text cells: an output holding "[/x]" or ":smile:" is data, not markup or emoji.
            table.add_row(Text(name), Text(json.dumps(value, default=jsonable)))
        Console(highlight=False, markup=False, emoji=False).print(table)
    else:
        sys.stdout.write(json.dumps(outputs, indent=2, default=jsonable, sort_keys=True) + "\n")
        sys.stdout.flush()
    return EXIT_SUCCEEDED


def jsonable(value: Any) -> Any:
    """JSON for the codec's Python values (datetimes, durations, files, datasets, bytes)."""
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return repr(value)
