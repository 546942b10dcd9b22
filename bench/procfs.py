"""Process-tree CPU and RSS from ``/proc`` (Linux only)."""

from __future__ import annotations

import os

TICK = os.sysconf("SC_CLK_TCK")


def _scan() -> tuple[dict[int, list[int]], dict[int, list[str]]]:
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)
        stats[pid] = fields
    return children, stats


def tree(pid: int) -> list[int]:
    """``pid`` and its live descendants."""
    children, _ = _scan()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, ()))
    return found


def tree_cpu_seconds(pid: int) -> float:
    """utime+stime of ``pid`` and its live descendants, in seconds."""
    children, stats = _scan()
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        fields = stats.get(current)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])
        todo.extend(children.get(current, ()))
    return total / TICK


def tree_rss_kb(pid: int) -> int:
    """Sum of VmRSS of ``pid`` and its live descendants, in kB."""
    total = 0
    for member in tree(pid):
        try:
            with open(f"/proc/{member}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total


def thread_stats(pid: int) -> dict[int, tuple[str, float, int, int]]:
    """Per thread of ``pid``: (name, CPU seconds, voluntary and involuntary context
    switches)."""
    stats = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        stats[int(tid)] = (
            name,
            (int(fields[11]) + int(fields[12])) / TICK,
            int(status["voluntary_ctxt_switches"]),
            int(status["nonvoluntary_ctxt_switches"]),
        )
    return stats
