"""Find plugins: every entry point of the ``flyte.agents`` group (or another), with its
distribution, and the allow/block lists that select among them."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

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
        distribution, version = name_and_version(dist) if dist else (None, None)
        found.append(
            Candidate(
                name=ep.name,
                value=ep.value,
                module=ep.module,
                distribution=distribution,
                version=version,
                entry_point=ep,
            )
        )
    return sorted(found, key=lambda c: (canonicalize_name(c.distribution or ""), c.name))


_HEAD_FIELDS = ("name", "version")


class InstalledDistribution(Protocol):
    """What ``name_and_version`` reads of a distribution (``importlib.metadata``'s and
    ``importlib_metadata``'s both have it)."""

    def read_text(self, filename: str) -> str | None:
        """The text of one of the distribution's metadata files, None if it has none."""

    @property
    def metadata(self) -> Any:
        """The distribution's core metadata, parsed as an email message."""


def name_and_version(dist: InstalledDistribution) -> tuple[str | None, str | None]:
    """A distribution's ``Name`` and ``Version``, from the head of its METADATA file.

    Both are one-line fields before the first blank line (core metadata spec), so reading them
    needs no parser; ``dist.metadata`` parses the whole file as an email message, which
    imports the ``email`` package: about 2.4 MB of a server's memory at start. A distribution
    without both there (an egg-info has PKG-INFO instead) is read through ``dist.metadata``."""
    text = dist.read_text("METADATA")
    found: dict[str, str] = {}
    for line in (text or "").splitlines():
        if not line:
            break
        key, colon, value = line.partition(":")
        field = key.lower()
        if colon and field in _HEAD_FIELDS and not line[0].isspace():
            found.setdefault(field, value.strip())
    if len(found) == len(_HEAD_FIELDS):
        return found["name"], found["version"]
    about = dist.metadata
    return about.get("Name"), about.get("Version")


def matches(candidate: Candidate, names: Iterable[str]) -> bool:
    """Whether ``names`` (allow or block list) name the candidate's distribution or entry
    point (compared as normalized names)."""
    wanted = {canonicalize_name(n) for n in names if n}
    own = {canonicalize_name(candidate.name)}
    if candidate.distribution:
        own.add(canonicalize_name(candidate.distribution))
    return bool(wanted & own)
