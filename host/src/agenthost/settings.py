"""Reading an agent's numeric settings from the environment, the way every first-party agent
does: unset means the default, anything that is not a number at least ``minimum`` is the
deployment's mistake (``MisconfiguredError``, gRPC FAILED_PRECONDITION)."""

from __future__ import annotations

import math
import os

from agenthost.errors import MisconfiguredError


def number_from_env(name: str, default: float, minimum: float = 0.0) -> float:
    """``$name`` as a float, ``default`` if unset or blank; ``MisconfiguredError`` naming the
    variable if it is not a finite number of at least ``minimum``. Read on every call, so a
    changed value needs no restart of the agent."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise MisconfiguredError(f"${name} must be a number, got {raw!r}") from None
    if not (math.isfinite(value) and value >= minimum):
        raise MisconfiguredError(f"${name} must be at least {minimum:g}, got {raw!r}")
    return value
