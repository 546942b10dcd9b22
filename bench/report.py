"""Render the benchmark JSON (``run.py``) as Markdown: ``python report.py results/latest.json``."""

from __future__ import annotations

import json
import sys
from typing import Any

FLYTEKIT = "flytekit"
FLYTEKIT_PLUGINS = "flytekit+plugins"
CEILING = "bare"
CEILING_V2 = "bare v2"
CEILING_BOTH = "bare v1+v2"
C0 = "c0"
C0_PLUGINS = "c0+plugins"
CEILING_PENDING = "bare max-pending"
MAIN = ("agenthost", "agenthost+plugins", FLYTEKIT, CEILING)
RPCS = ("GetTask", "CreateTask", "ExecuteTaskSync", "ListAgents")
RPCS_V2 = ("GetTask v2", "CreateTask v2")
CONCURRENCY = (1, 16, 64)


def ceiling_and_peer(rpc: str) -> tuple[str, str]:
    """The ceiling and the peer server an ``rpc``'s cells are compared with: the bare server
    and flytekit for v1, the bare v2 server and flyte-sdk's ``c0`` for v2."""
    return (CEILING_V2, C0) if rpc in RPCS_V2 else (CEILING, FLYTEKIT)


def _f(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _ratio(value: float | None, reference: float | None, digits: int = 2) -> str:
    if not value or not reference:
        return "–"
    return f"{value / reference:.{digits}f}x"


def cold_table(results: dict[str, Any]) -> list[str]:
    cold = results.get("cold_start", {})
    load = results.get("load", {})
    if not cold:
        return []
    fk = cold.get(FLYTEKIT, {}).get("median_s")
    fk_plugins = cold.get(FLYTEKIT_PLUGINS, {}).get("median_s")
    bare = cold.get(CEILING, {}).get("median_s")
    lines = [
        "| server | cold start median (min–max) | vs flytekit | vs flytekit+plugins |"
        " vs ceiling | RSS after start | RSS after load |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in cold.items():
        after = load.get("rss_after_load_mb", {}).get(name)
        lines.append(
            f"| {name} | {row['median_s'] * 1000:.0f} ms ({row['min_s'] * 1000:.0f}–"
            f"{row['max_s'] * 1000:.0f}) | {_faster(fk, row['median_s'])} | "
            f"{_faster(fk_plugins, row['median_s'])} | "
            f"{_ratio(row['median_s'], bare)} | {row['rss_start_mb']:.1f} MB | "
            f"{_f(after, 1) + ' MB' if after else '–'} |"
        )
    return lines


def _faster(reference: float | None, value: float | None) -> str:
    """``reference / value`` as "N.NNx faster" (>1 means better than the reference)."""
    if not reference or not value:
        return "–"
    return f"{reference / value:.2f}x faster"


def load_tables(results: dict[str, Any]) -> list[str]:
    cells = results.get("load", {}).get("cells", {})
    if not cells:
        return []
    servers = list(dict.fromkeys(key.split("|")[0] for key in cells))
    lines: list[str] = []
    for rpc in (*RPCS, *RPCS_V2):
        ceiling, peer = ceiling_and_peer(rpc)
        if not any(key.split("|")[1] == rpc for key in cells):
            continue
        lines += [
            f"#### {rpc}",
            "",
            "| server | conc | ops/s | p50 µs | p99 µs | server CPU µs/call | CPU vs ceiling |"
            f" CPU: {peer} / this | p99 vs ceiling |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for conc in CONCURRENCY:
            base = cells.get(f"{ceiling}|{rpc}|{conc}", {})
            fk = cells.get(f"{peer}|{rpc}|{conc}", {})
            for name in servers:
                row = cells.get(f"{name}|{rpc}|{conc}")
                if row is None:
                    continue
                if "error" in row:
                    lines.append(f"| {name} | {conc} | error: {row['error']} |||||||")
                    continue
                cpu = row["server_cpu_us"]
                lines.append(
                    f"| {name} | {conc} | {_f(row['ops'])} | {_f(row['p50_us'])} | "
                    f"{_f(row['p99_us'])} | {_f(cpu)} | {_ratio(cpu, base.get('server_cpu_us'))}"
                    f" | {_ratio(fk.get('server_cpu_us'), cpu)} | "
                    f"{_ratio(row['p99_us'], base.get('p99_us'))} |"
                )
        lines.append("")
    return lines


def targets(results: dict[str, Any]) -> list[str]:
    cold = results.get("cold_start", {})
    cells = results.get("load", {}).get("cells", {})
    rows = []

    def add(what: str, target: str, value: str, ok: bool | None) -> None:
        verdict = "–" if ok is None else ("met" if ok else "**missed**")
        rows.append(f"| {what} | {target} | {value} | {verdict} |")

    plugins = cold.get("agenthost+plugins", {})
    # Like for like: flytekit with its counterparts of the first-party plugins installed.
    reference = FLYTEKIT_PLUGINS if FLYTEKIT_PLUGINS in cold else FLYTEKIT
    fk = cold.get(reference, {})
    if plugins:
        add(
            "cold start, all plugins installed",
            f"≤ 250 ms and ≥ 4x faster than {reference}",
            f"{plugins['median_s'] * 1000:.0f} ms; "
            f"{_faster(fk.get('median_s'), plugins['median_s'])}",
            plugins["median_s"] <= 0.25 and (not fk or fk["median_s"] / plugins["median_s"] >= 4),
        )
        add(
            "RSS after start, all plugins installed",
            "≤ 50 MB",
            f"{plugins['rss_start_mb']:.1f} MB"
            + (f" ({reference}: {fk['rss_start_mb']:.1f} MB)" if fk else ""),
            plugins["rss_start_mb"] <= 50,
        )
    for rpc in ("GetTask", "CreateTask", "ExecuteTaskSync"):
        for conc in CONCURRENCY:
            ours = cells.get(f"agenthost|{rpc}|{conc}", {}).get("server_cpu_us")
            base = cells.get(f"{CEILING}|{rpc}|{conc}", {}).get("server_cpu_us")
            theirs = cells.get(f"{FLYTEKIT}|{rpc}|{conc}", {}).get("server_cpu_us")
            if ours and base:
                ceiling_ok = ours / base <= 1.15
                flytekit_ok = None if not theirs else theirs / ours >= 1.5
                verdict = "ceiling: " + ("met" if ceiling_ok else "**missed**")
                if flytekit_ok is not None:
                    verdict += "; flytekit: " + ("met" if flytekit_ok else "**missed**")
                    if not flytekit_ok:
                        verdict += f" (needs {theirs / base / 1.5:.2f}x ceiling)"
                rows.append(
                    f"| {rpc} CPU/call, c={conc} | ≤ 1.15x ceiling, ≥ 1.5x better than "
                    f"flytekit | {ours / base:.2f}x ceiling; flytekit/ours "
                    f"{_ratio(theirs, ours)} (flytekit: {_ratio(theirs, base)} ceiling) | "
                    f"{verdict} |"
                )
    for rpc in RPCS:
        ours = cells.get(f"agenthost|{rpc}|64", {}).get("p99_us")
        base = cells.get(f"{CEILING}|{rpc}|64", {}).get("p99_us")
        if ours and base:
            add(
                f"{rpc} p99, c=64",
                "≤ 1.20x ceiling",
                f"{ours / base:.2f}x ({ours:,.0f} µs)",
                ours / base <= 1.2,
            )
    rows += flyte2_targets(results)
    if not rows:
        return []
    return ["| target | wanted | measured | verdict |", "|---|---|---|---|", *rows]


def flyte2_targets(results: dict[str, Any]) -> list[str]:
    """Issue 19's rows: agenthost with every plugin and both protocols against the bare
    server serving both, v2 CPU per call against the bare v2 server, ``c0`` for reference."""
    cold = results.get("cold_start", {})
    cells = results.get("load", {}).get("cells", {})
    rows = []
    plugins, both = cold.get("agenthost+plugins", {}), cold.get(CEILING_BOTH, {})
    c0 = cold.get(C0_PLUGINS) or cold.get(C0) or {}
    c0_name = C0_PLUGINS if C0_PLUGINS in cold else C0
    if plugins:
        ratio = plugins["median_s"] / both["median_s"] if both else None
        ok = plugins["median_s"] <= 0.25 and (ratio is None or ratio <= 2.1)
        vs_ceiling = _ratio(plugins["median_s"], both.get("median_s"))
        vs_c0 = _faster(c0.get("median_s"), plugins["median_s"])
        rows.append(
            f"| v1+v2 cold start, all plugins | ≤ 250 ms and ≤ 2.1x {CEILING_BOTH} | "
            f"{plugins['median_s'] * 1000:.0f} ms; {vs_ceiling} ceiling; {vs_c0} than {c0_name}"
            f" | {'met' if ok else '**missed**'} |"
        )
        rows.append(
            f"| v1+v2 RSS after start, all plugins | ≤ 55 MB | {plugins['rss_start_mb']:.1f} MB"
            + (f" ({c0_name}: {c0['rss_start_mb']:.1f} MB)" if c0 else "")
            + f" | {'met' if plugins['rss_start_mb'] <= 55 else '**missed**'} |"
        )
    for rpc in RPCS_V2:
        for conc in CONCURRENCY:
            ours = cells.get(f"agenthost|{rpc}|{conc}", {}).get("server_cpu_us")
            base = cells.get(f"{CEILING_V2}|{rpc}|{conc}", {}).get("server_cpu_us")
            peer = cells.get(f"{C0}|{rpc}|{conc}", {}).get("server_cpu_us")
            if ours and base:
                rows.append(
                    f"| {rpc} CPU/call, c={conc} | ≤ 1.15x {CEILING_V2} | {ours / base:.2f}x "
                    f"ceiling; c0/ours {_ratio(peer, ours)} | "
                    f"{'met' if ours / base <= 1.15 else '**missed**'} |"
                )
    return rows


PLUGIN_GOALS = {"BigQuery": 1.5, "Snowflake": 2.0, "Databricks": 2.0}
"""Issue 22's goals: flytekit's server CPU per GetTask over agenthost's, per plugin."""


def plugins_table(results: dict[str, Any]) -> list[str]:
    """Server CPU per GetTask of a finished job: agenthost's plugin vs flytekit's connector."""
    section = results.get("plugins") or {}
    cases = section.get("cases") or {}
    if not cases:
        return []
    lines = [
        f"GetTask of one finished job by {section.get('pollers')} concurrent pollers, each "
        "server against the same emulator or fake (`bench/plugin_cases.py`); server CPU µs per "
        "call (process tree), median of rounds. flytekit is `pyflyte serve connector` with its "
        "own plugin, pointed at the emulator by `bench/plugin_endpoints.py`.",
        "",
        "| plugin | agenthost µs/call | flytekit µs/call | flytekit ÷ agenthost | goal | "
        "agenthost ops/s | flytekit ops/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, case in cases.items():
        ours, theirs = case.get("agenthost", {}), case.get("flytekit", {})
        ratio = case.get("flytekit_over_agenthost")
        goal = PLUGIN_GOALS.get(name)
        lines.append(
            f"| {name} | {_f(ours.get('server_cpu_us'))} | {_f(theirs.get('server_cpu_us'))} | "
            f"{_f(ratio, 2) + 'x' if ratio else ours.get('error') or theirs.get('error')} | "
            f"{'≥ ' + _f(goal, 1) + 'x' if goal else ''} | {_f(ours.get('ops'))} | "
            f"{_f(theirs.get('ops'))} |"
        )
    return lines


def import_table(results: dict[str, Any]) -> list[str]:
    data = results.get("import_time", {})
    if not data:
        return []
    lines = ["| statement | ms (min of runs, minus bare interpreter) |", "|---|---|"]
    for side in ("agenthost", FLYTEKIT):
        for key, value in data.get(side, {}).items():
            if key in ("slowest", "runs", "interpreter_ms", "error"):
                continue
            lines.append(f"| `{key}` | {_f(value, 1)} |")
    interp = data.get("agenthost", {}).get("interpreter_ms")
    if interp is not None:
        lines.append(f"| (bare interpreter `python -c pass`) | {interp} |")
    slow = data.get("agenthost", {}).get("slowest")
    if slow:
        lines += [
            "",
            "Slowest modules under `import agenthost` (`-X importtime`, cumulative ms):",
            "",
            ", ".join(f"`{n}` {c:.0f}" for n, c, _ in slow[:8]),
        ]
    return lines


def codec_table(results: dict[str, Any]) -> list[str]:
    data = results.get("codec", {})
    ours, theirs = data.get("agenthost", {}), data.get(FLYTEKIT, {})
    if not ours or "error" in ours:
        return []
    lines = [
        "| value | agenthost encode/s | flytekit encode/s | ratio | agenthost decode/s |"
        " flytekit decode/s | ratio | same bytes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in ours.items():
        other = theirs.get(name, {}) if isinstance(theirs, dict) else {}
        same = "yes" if other.get("digest") == row["digest"] else ("–" if not other else "NO")
        lines.append(
            f"| {name} | {_f(row['encode_per_s'])} | {_f(other.get('encode_per_s'))} | "
            f"{_ratio(row['encode_per_s'], other.get('encode_per_s'), 1)} | "
            f"{_f(row['decode_per_s'])} | {_f(other.get('decode_per_s'))} | "
            f"{_ratio(row['decode_per_s'], other.get('decode_per_s'), 1)} | {same} |"
        )
    return lines


def _update_note(meta: dict[str, Any]) -> list[str]:
    first = meta.get("first_run")
    if not first:
        return []
    return [
        f"Phases {', '.join(meta.get('updated_phases', []))} were re-run later "
        f"(last at {meta.get('started')}, `--update`); the others come from the run of "
        f"{first.get('started')} "
        f"({first.get('elapsed_s')} s, load average at start "
        f"{' '.join(first.get('loadavg_start', []))}, at end "
        f"{' '.join(first.get('loadavg_end', []))}).",
    ]


def _pinning_note(meta: dict[str, Any]) -> str:
    pinning = meta.get("pinning")
    if not pinning:
        return "Servers and the load generator shared the CPUs (not pinned)."
    return (
        f"Pinned: servers on CPU {', '.join(map(str, pinning['server']))}, the load generator "
        f"on CPU {', '.join(map(str, pinning['loadgen']))} (`--workers 2` is not pinned), so "
        "the load generator never takes CPU from the server it measures."
    )


BURST_LABELS = {
    "create": "5,000 unary CreateTask at once",
    "get": "5,000 unary GetTask at once",
    "sync": "2,000 ExecuteTaskSync streams at once",
}


def bursts_table(results: dict[str, Any]) -> list[str]:
    """Issue 25: calls lost (any answer but OK) and p99 per burst, server by server."""
    bursts = results.get("bursts")
    if not bursts:
        return []
    cells = bursts["cells"]
    order = ("agenthost", CEILING, CEILING_PENDING, FLYTEKIT)
    servers = [s for s in order if any(k.startswith(f"{s}|") for k in cells)]
    lines = [
        f"One connection, Python `grpc.aio` client, default server options; the sync agent "
        f"takes {bursts['sync_seconds']:g} s. Lost: calls answered anything but OK. "
        "`bare max-pending` is the ceiling with grpc's `grpc.server.max_pending_requests` and "
        "its hard limit raised to agenthost's default `--max-pending-calls` (20,000).",
        "",
        "| burst | " + " | ".join(f"{s}: lost / p99" for s in servers) + " |",
        "|---|" + "---|" * len(servers),
    ]
    for kind, label in BURST_LABELS.items():
        row = []
        for server in servers:
            cell = cells.get(f"{server}|{kind}")
            if not cell or "lost" not in cell:
                row.append("–")
                continue
            lost = f"{cell['lost']:,}"
            if cell["lost"]:
                lost += (
                    " ("
                    + ", ".join(f"{c} {n}" for c, n in cell["codes"].items() if c != "OK")
                    + ")"
                )
            row.append(f"{lost} / {cell['p99_s']:.2f} s")
        lines.append(f"| {label} | " + " | ".join(row) + " |")
    return lines


def render(results: dict[str, Any]) -> str:
    meta = results.get("meta", {})
    out = [
        "# agenthost benchmark results",
        "",
        f"Run {meta.get('started')} ({meta.get('mode')} mode, {meta.get('elapsed_s')} s), "
        f"{meta.get('cpus')} CPUs, Python {meta.get('python')}. Load average at start "
        f"{' '.join(meta.get('loadavg_start', []))}, at end {' '.join(meta.get('loadavg_end', []))}"
        " (shared machine: wall-clock figures are noisy; server CPU µs/call is the steady one).",
        f"Load: {meta.get('rounds')} round(s), {meta.get('duration_s')} s per cell after "
        f"{meta.get('warmup_s')} s warm-up; servers alternated within each cell and across "
        f"rounds; medians over rounds. Cold start: {meta.get('cold_runs')} runs per server, "
        "alternated.",
        _pinning_note(meta),
        *_update_note(meta),
        "",
        "Versions: "
        + "; ".join(
            f"{side}: " + ", ".join(f"{k} {v}" for k, v in versions.items())
            for side, versions in meta.get("versions", {}).items()
            if isinstance(versions, dict)
        ),
        "",
        "Servers:",
        "",
        *(f"- **{name}**: {info['description']}" for name, info in meta.get("servers", {}).items()),
        "",
    ]
    for title, body in (
        ("Targets", targets(results)),
        (
            "Cold start (spawn to first successful ListAgents, or ListConnectors for v2-only "
            "servers) and memory",
            cold_table(results),
        ),
        ("Throughput, latency and server CPU per call", load_tables(results)),
        ("Plugins: server CPU per GetTask against the same emulator", plugins_table(results)),
        ("Bursts", bursts_table(results)),
        ("Import time", import_table(results)),
        ("Literal codec (calls per second, best of 7 windows)", codec_table(results)),
    ):
        if body:
            out += [f"## {title}", "", *body, ""]
    return "\n".join(out)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        print(render(json.load(f)))
