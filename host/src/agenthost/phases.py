"""Helpers for flyteidl task-execution phases."""

from __future__ import annotations

from flyteidl.core.execution_pb2 import TaskExecution

Phase = TaskExecution.Phase
"""The flyteidl ``TaskExecution.Phase`` enum (``Phase.SUCCEEDED`` etc.)."""

TERMINAL_PHASES: frozenset[int] = frozenset(
    {
        TaskExecution.SUCCEEDED,
        TaskExecution.FAILED,
        TaskExecution.ABORTED,
        TaskExecution.RETRYABLE_FAILED,
    }
)
"""Phases after which propeller stops polling."""

_STATE_TO_PHASE: dict[str, int] = {
    # Not started or waiting.
    "pending": TaskExecution.INITIALIZING,
    "queued": TaskExecution.QUEUED,
    "submitted": TaskExecution.QUEUED,
    "scheduled": TaskExecution.QUEUED,
    "waiting": TaskExecution.WAITING_FOR_RESOURCES,
    "initializing": TaskExecution.INITIALIZING,
    "validating": TaskExecution.RUNNING,
    "starting": TaskExecution.INITIALIZING,
    # Running.
    "running": TaskExecution.RUNNING,
    "in_progress": TaskExecution.RUNNING,
    "in-progress": TaskExecution.RUNNING,
    "active": TaskExecution.RUNNING,
    "finalizing": TaskExecution.RUNNING,
    "cancelling": TaskExecution.RUNNING,
    "terminating": TaskExecution.RUNNING,
    # Terminal.
    "done": TaskExecution.SUCCEEDED,
    "success": TaskExecution.SUCCEEDED,
    "succeeded": TaskExecution.SUCCEEDED,
    "successful": TaskExecution.SUCCEEDED,
    "completed": TaskExecution.SUCCEEDED,
    "complete": TaskExecution.SUCCEEDED,
    "failed": TaskExecution.FAILED,
    "failure": TaskExecution.FAILED,
    "error": TaskExecution.FAILED,
    "internal_error": TaskExecution.FAILED,
    "expired": TaskExecution.FAILED,
    "timedout": TaskExecution.FAILED,
    "timeout": TaskExecution.FAILED,
    "timed_out": TaskExecution.FAILED,
    "cancelled": TaskExecution.ABORTED,
    "canceled": TaskExecution.ABORTED,
    "aborted": TaskExecution.ABORTED,
    "terminated": TaskExecution.ABORTED,
    "skipped": TaskExecution.ABORTED,
}


def phase_from_state(state: str) -> int:
    """Map an external platform's job state (``"RUNNING"``, ``"DONE"``, ``"in_progress"`` ...) to
    a flyteidl phase, case-insensitively. Raises ``ValueError`` naming the state if unknown."""
    key = state.strip().lower().replace(" ", "_")
    try:
        return _STATE_TO_PHASE[key]
    except KeyError:
        raise ValueError(f"unknown job state {state!r}") from None


def is_terminal_phase(phase: int) -> bool:
    """Whether ``phase`` is final (succeeded, failed, retryable-failed or aborted)."""
    return phase in TERMINAL_PHASES


def phase_name(phase: int) -> str:
    """The flyteidl name of ``phase`` (``"SUCCEEDED"``), or ``"UNKNOWN(<n>)"``."""
    try:
        return str(TaskExecution.Phase.Name(phase))
    except ValueError:
        return f"UNKNOWN({phase})"
