"""Shared helpers of the reliability tests (quick ones here, long ones in the repository's
``tests/reliability``): start a server with the test and faulty agents, read its memory,
check that error details are clean, and collect figures for the summary table."""

from __future__ import annotations

import re
import site
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import fake_plugins
import grpc

import agenthost
from agenthost.testing import RunningServer, running_server

ENV_SECRET = "rel-env-secret-5f1c9e"
"""Planted in the server's environment as ``_FSEC_REL_TOKEN``."""

FILE_SECRET = "rel-file-secret-8a2d4b"
"""Planted as the file ``<secrets dir>/rel/file_token``."""

SECRETS = (ENV_SECRET, FILE_SECRET)

BAD_INPUT_CODES = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)
"""Codes a malformed or unserviceable request may get (INTERNAL is reserved for agent
faults, whose details start with ``agent <name> failed to``)."""

MAX_DETAILS = 1000

STATS: dict[str, dict[str, Any]] = {}
"""Figures collected by the tests, printed as the summary table: {section: {name: value}}."""


def record(section: str, name: str, value: Any) -> None:
    """Add a figure to the summary table (numbers under the same name are summed)."""
    row = STATS.setdefault(section, {})
    if isinstance(value, (int, float)) and isinstance(row.get(name), (int, float)):
        row[name] += value
    else:
        row[name] = value


def summary_lines() -> list[str]:
    """The collected figures as an aligned table."""
    rows = [(s, n, v) for s, figures in STATS.items() for n, v in figures.items()]
    if not rows:
        return []
    width_s = max(len("section"), *(len(s) for s, _, _ in rows))
    width_n = max(len("figure"), *(len(n) for _, n, _ in rows))
    lines = [f"{'section':<{width_s}}  {'figure':<{width_n}}  value"]
    lines.append(f"{'-' * width_s}  {'-' * width_n}  -----")
    for section, name, value in rows:
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        lines.append(f"{section:<{width_s}}  {name:<{width_n}}  {shown}")
    return lines


def server_env(markers: Path, secrets_dir: Path | None = None, **extra: str) -> dict[str, str]:
    """Environment for a server that can import the fake plugins (``fake_plugins``), with
    both secrets planted."""
    env = fake_plugins.env(AGENTHOST_TEST_MARKERS=str(markers), _FSEC_REL_TOKEN=ENV_SECRET, **extra)
    if secrets_dir is not None:
        group = secrets_dir / "rel"
        group.mkdir(parents=True, exist_ok=True)
        secret_file = group / "file_token"
        secret_file.write_text(FILE_SECRET)
        secret_file.chmod(0o400)
        env["FLYTE_SECRETS_DEFAULT_DIR"] = str(secrets_dir)
    return env


@contextmanager
def rel_server(
    markers: Path,
    *args: str,
    modules: str = "fake_plugins.basic,fake_plugins.faulty",
    secrets_dir: Path | None = None,
    env: dict[str, str] | None = None,
    **kwargs: Any,
) -> Iterator[RunningServer]:
    """``agenthost serve`` (a subprocess) with the basic and faulty fake plugins loaded."""
    full_env = server_env(markers, secrets_dir, **(env or {}))
    with running_server("--modules", modules, *args, env=full_env, **kwargs) as server:
        yield server


def rss_bytes(pid: int) -> int:
    """Resident set size of process ``pid`` (from /proc/<pid>/status)."""
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+)\s+kB", text, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no VmRSS for pid {pid}")
    return int(match.group(1)) * 1024


def scrape(metrics_port: int) -> str:
    """The server's /metrics text."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
        return str(r.read().decode())


def sample(text: str, name: str) -> float | None:
    """The value of the unlabelled sample ``name`` in a /metrics text."""
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


def server_paths() -> list[str]:
    """Directories of the server's installation (it runs this interpreter) that must never
    appear in what a client sees."""
    paths = {
        str(Path(agenthost.__file__).resolve().parent),
        sys.prefix,
        sys.base_prefix,
        *site.getsitepackages(),
        str(Path.home()),
    }
    return sorted(p for p in paths if p and p != "/")


_PATHS = server_paths()


def problems_in(text: str, *, multiline_ok: bool = False) -> list[str]:
    """What is wrong with client-visible ``text``: server paths and secrets always; for
    status details (``multiline_ok`` false) also tracebacks, several lines, excessive length.
    A ``Resource.message`` may span lines (it is the agent's report of a job)."""
    found = [f"path {p}" for p in _PATHS if p in text]
    found += [f"secret {s}" for s in SECRETS if s in text]
    if multiline_ok:
        return found
    if "Traceback" in text or 'File "' in text:
        found.append("traceback")
    if "\n" in text:
        found.append("several lines")
    if len(text) > MAX_DETAILS:
        found.append(f"{len(text)} characters")
    return found


def check_bad_input_error(error: grpc.RpcError, *, agent_fault_ok: bool = True) -> str | None:
    """None if ``error`` is a defined answer to a bad request, else what is wrong with it."""
    code, details = error.code(), error.details() or ""
    problems = problems_in(details)
    if problems:
        return f"{code.name} details {details[:200]!r}: {', '.join(problems)}"
    if code in BAD_INPUT_CODES:
        return None
    if code == grpc.StatusCode.INTERNAL and agent_fault_ok and details.startswith("agent "):
        return None
    return f"unexpected {code.name}: {details[:200]!r}"
