"""Find plugins: every entry point of the ``flyte.agents`` group (or another), with its
distribution, and the allow/block lists that select among them."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from packaging.utils import canonicalize_name

if sys.version_info >= (3, 12):
    from importlib import metadata
else:
    import importlib_metadata as metadata

ENTRY_POINT_GROUP = "flyte.agents"
"""The entry-point group agenthost discovers plugins in."""


@dataclass
class Candidate:
    """One plugin to load: an entry point, or a module named with ``--modules``."""

    name: str
    value: str
    module: str
    distribution: str | None
    version: str | None
    entry_point: metadata.EntryPoint | None

    def load(self) -> Any:
        """Import the plugin; what its entry point names (or the module)."""
        if self.entry_point is not None:
            return self.entry_point.load()
        return importlib.import_module(self.module)


def discover(group: str = ENTRY_POINT_GROUP) -> list[Candidate]:
    """Every entry point in ``group``, sorted by distribution then entry-point name."""
    found = []
    for ep in metadata.entry_points(group=group):
        dist = getattr(ep, "dist", None)
        # ``dist.name`` and ``dist.version`` would each read and parse METADATA again.
        about = dist.metadata if dist else None
        found.append(
            Candidate(
                name=ep.name,
                value=ep.value,
                module=ep.module,
                distribution=about["Name"] if about else None,
                version=about["Version"] if about else None,
                entry_point=ep,
            )
        )
    return sorted(found, key=lambda c: (canonicalize_name(c.distribution or ""), c.name))


def matches(candidate: Candidate, names: Iterable[str]) -> bool:
    """Whether ``names`` (allow or block list) name the candidate's distribution or entry
    point (compared as normalized names)."""
    wanted = {canonicalize_name(n) for n in names if n}
    own = {canonicalize_name(candidate.name)}
    if candidate.distribution:
        own.add(canonicalize_name(candidate.distribution))
    return bool(wanted & own)
