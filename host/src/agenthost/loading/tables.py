"""Plain-text tables of plugins and agents, for ``agenthost plugins`` and ``serve``'s banner."""

from __future__ import annotations

from collections.abc import Sequence

from agenthost.loading.report import LoadResult


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [headers, *rows]
    ]
    return "\n".join(lines)


def plugins_table(result: LoadResult) -> str:
    """One row per agent of each loaded plugin, then one per failed or blocked plugin."""
    rows = []
    for p in result.plugins:
        version = p.version or "-"
        dist = p.distribution or p.name
        if p.status == "loaded":
            for a in p.agents:
                category = a.task_category
                rows.append(
                    [
                        dist,
                        version,
                        p.status,
                        f"{category.name} v{category.version}",
                        a.kind,
                        a.name,
                    ]
                )
        else:
            rows.append([dist, version, p.status, "-", "-", p.reason or ""])
    if not rows:
        return "no plugins found in the flyte.agents entry-point group"
    return format_table(
        ["plugin", "version", "status", "task type", "kind", "agent / reason"], rows
    )
