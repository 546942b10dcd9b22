"""The event loop a server process runs on (``--event-loop``): uvloop where it is installed
(``pip install agenthost`` installs it on Linux and macOS), else asyncio's own.

Both run the same code. uvloop wakes for grpc's completions and runs the calls' callbacks for
less CPU: about 10-20% less server CPU per agent call (``bench/RESULTS.md``, "uvloop").
``asyncio`` is there for a plugin that does not get on with uvloop.
"""

from __future__ import annotations

import asyncio
import importlib.util

EVENT_LOOPS = ("auto", "uvloop", "asyncio")
"""What ``--event-loop`` accepts; ``auto``: uvloop if it is installed, else asyncio."""


def uvloop_installed() -> bool:
    """Whether uvloop can be imported."""
    return importlib.util.find_spec("uvloop") is not None


def event_loop_problem(choice: str) -> str | None:
    """Why ``--event-loop choice`` cannot be served, or None."""
    if choice not in EVENT_LOOPS:
        return f"--event-loop must be one of {', '.join(EVENT_LOOPS)} (got {choice!r})"
    if choice == "uvloop" and not uvloop_installed():
        return "--event-loop uvloop: uvloop is not installed (pip install uvloop)"
    return None


def chosen_event_loop(choice: str) -> str:
    """The loop ``choice`` (one of ``EVENT_LOOPS``) stands for here: ``uvloop`` or ``asyncio``."""
    if choice == "auto":
        return "uvloop" if uvloop_installed() else "asyncio"
    return choice


def new_event_loop(choice: str) -> asyncio.AbstractEventLoop:
    """A new event loop of the kind ``choice`` stands for (``chosen_event_loop``)."""
    if chosen_event_loop(choice) == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()
