"""What happened to each plugin: ``PluginReport``, ``LoadResult`` and their stable JSON shape
(``agenthost plugins --json``, documented in docs/cli.md)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from agenthost.agent import AgentBase
from agenthost.errors import AgentHostError
from agenthost.version import PLUGIN_API_VERSION, __version__

Status = Literal["loaded", "failed", "blocked"]


class PluginLoadError(AgentHostError):
    """Raised in strict mode when any plugin failed; lists every failure."""

    def __init__(self, failures: Sequence[PluginReport]) -> None:
        self.failures = list(failures)
        lines = [f"{r.label}: {r.reason}" for r in self.failures]
        super().__init__(f"{len(lines)} plugin(s) failed: " + "; ".join(lines))


@dataclass
class PluginReport:
    """What happened to one plugin (one entry point, or one ``--modules`` module)."""

    name: str
    entry_point: str
    distribution: str | None = None
    version: str | None = None
    status: Status = "loaded"
    reason: str | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    agents: list[AgentBase] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``distribution version (entry point)``, for messages."""
        dist = f"{self.distribution} {self.version}" if self.distribution else "no distribution"
        return f"{self.name} [{dist}]"

    def fail(self, reason: str, problems: Iterable[str] = ()) -> None:
        """Mark this plugin failed with a one-line ``reason``."""
        self.status = "failed"
        self.reason = reason.splitlines()[0] if reason else "failed"
        self.problems = list(problems) or [self.reason]
        self.agents = []

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape documented in docs/cli.md."""
        return {
            "name": self.name,
            "entry_point": self.entry_point,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "reason": self.reason,
            "problems": self.problems,
            "warnings": self.warnings,
            "agents": [
                {
                    "name": a.name,
                    "kind": a.kind,
                    "task_types": [
                        {"name": a.task_category.name, "version": a.task_category.version}
                    ],
                }
                for a in self.agents
            ],
        }


@dataclass
class LoadResult:
    """Every plugin's report and the agents that passed, in a deterministic order."""

    plugins: list[PluginReport]
    agents: list[AgentBase]

    @property
    def failed(self) -> list[PluginReport]:
        """Reports of plugins that failed."""
        return [p for p in self.plugins if p.status == "failed"]

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape of ``agenthost plugins --json``."""
        return {
            "agenthost": {"version": __version__, "plugin_api": PLUGIN_API_VERSION},
            "plugins": [p.to_dict() for p in self.plugins],
        }
