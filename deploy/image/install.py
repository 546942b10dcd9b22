"""Build and install agenthost with a chosen set of plugins: the container image's install steps.

The Dockerfile runs this script, and ``tests/deploy`` runs it into a fresh virtual environment,
so what the image does is what the tests check. Standard library only.

    python deploy/image/install.py build   --out WHEELS [PLUGIN ...]
    python deploy/image/install.py install --wheelhouse WHEELS --venv DIR [PLUGIN ...]
    python deploy/image/install.py verify  --venv DIR [PLUGIN ...]

A PLUGIN is a distribution name from this repository (``agent-bigquery``), its short name
(``bigquery``) or either with extras (``agent-file-sensor[s3]``). Without PLUGIN arguments the
``PLUGINS`` environment variable is read (space- or comma-separated). ``install`` installs only
the host and the selected plugins (from the wheel files in the wheelhouse; their third-party
dependencies from the package index) and then runs ``verify``: ``agenthost plugins --json`` must
list exactly the selected distributions, all loaded, and ``agenthost check`` must pass.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HOST_DISTRIBUTION = "agenthost"
REPO_ROOT = Path(__file__).resolve().parents[2]
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[A-Za-z0-9_,\s.-]+\])?\s*$")
_PROJECT_NAME = re.compile(r'^name\s*=\s*"([^"]+)"', re.MULTILINE)
_ISOLATED_ENV = ("AGENTHOST_ALLOW", "AGENTHOST_BLOCK", "AGENTHOST_MODULES", "PYTHONPATH")


class InstallError(Exception):
    """A step failed; the message says which and why, in one line."""


@dataclass(frozen=True)
class Selection:
    """One selected distribution and the extras to install with it."""

    distribution: str
    extras: str = ""

    @property
    def wheel_stem(self) -> str:
        """The distribution's name as wheel file names spell it."""
        return normalize(self.distribution).replace("-", "_")


def normalize(name: str) -> str:
    """PEP 503 normalised name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def repository_distributions(root: Path = REPO_ROOT) -> dict[str, Path]:
    """Every distribution in the repository (normalised name -> folder)."""
    found: dict[str, Path] = {}
    for pyproject in [
        root / "host" / "pyproject.toml",
        *sorted(root.glob("plugins/*/pyproject.toml")),
    ]:
        match = _PROJECT_NAME.search(pyproject.read_text(encoding="utf-8"))
        if match:
            found[normalize(match.group(1))] = pyproject.parent
    return found


def parse_selection(names: list[str], known: set[str]) -> list[Selection]:
    """The plugins named in ``names`` (or ``$PLUGINS``), checked against ``known``."""
    words = names or os.environ.get("PLUGINS", "").replace(",", " ").split()
    selections: dict[str, Selection] = {}
    for word in words:
        match = _REQUIREMENT.match(word)
        if not match:
            raise InstallError(f"not a plugin name: {word!r}")
        name = normalize(match.group(1))
        if name not in known and f"agent-{name}" in known:
            name = f"agent-{name}"
        if name == HOST_DISTRIBUTION:
            continue
        if name not in known:
            choices = ", ".join(sorted(known - {HOST_DISTRIBUTION}))
            raise InstallError(f"unknown plugin {word!r}; this repository has: {choices}")
        selections[name] = Selection(name, (match.group(2) or "").replace(" ", ""))
    return list(selections.values())


def find_uv() -> str | None:
    """The ``uv`` executable on PATH or beside this Python, if any (else pip is used)."""
    beside = Path(sys.executable).parent / "uv"
    return shutil.which("uv") or (str(beside) if beside.exists() else None)


def _run(args: list[str], what: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        args, capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env, check=False
    )
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-15:]
        raise InstallError(f"{what} failed (exit {result.returncode}):\n" + "\n".join(tail))
    return result.stdout


def build(out: Path, selections: list[Selection], root: Path = REPO_ROOT) -> list[Path]:
    """Build the wheels of the host and the selected plugins into ``out``."""
    folders = repository_distributions(root)
    out.mkdir(parents=True, exist_ok=True)
    uv = find_uv()
    for name in [HOST_DISTRIBUTION, *(s.distribution for s in selections)]:
        if uv:
            command = [uv, "build", "--wheel", "--out-dir", str(out), str(folders[name])]
        else:
            command = [
                sys.executable,
                "-m",
                "build",
                "--wheel",
                "--outdir",
                str(out),
                str(folders[name]),
            ]
        _run(command, f"building {name}")
        print(f"built {name}", flush=True)
    return sorted(out.glob("*.whl"))


def find_wheel(wheelhouse: Path, selection: Selection) -> Path:
    """The one wheel of ``selection`` in ``wheelhouse``."""
    candidates = sorted(wheelhouse.glob(f"{selection.wheel_stem}-*.whl"))
    if len(candidates) != 1:
        found = ", ".join(p.name for p in candidates) or "none"
        raise InstallError(
            f"expected one wheel of {selection.distribution} in {wheelhouse}, found {found}"
        )
    return candidates[0]


def _venv_bin(venv: Path, program: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / program


def install(wheelhouse: Path, venv: Path, selections: list[Selection]) -> None:
    """Create ``venv`` (if needed) and install the host and the selected plugins into it."""
    uv = find_uv()
    python = _venv_bin(venv, "python")
    if not python.exists():
        _run(
            [sys.executable, "-m", "venv", *(["--without-pip"] if uv else []), str(venv)],
            "creating the virtual environment",
        )
    requirements = [
        f"{s.distribution}{s.extras} @ {find_wheel(wheelhouse, s).resolve().as_uri()}"
        for s in [Selection(HOST_DISTRIBUTION), *selections]
    ]
    if uv:
        command = [
            uv,
            "pip",
            "install",
            "--python",
            str(python),
            "--no-cache",
            "--compile-bytecode",
        ]
    else:
        command = [str(python), "-m", "pip", "install", "--no-cache-dir"]
    _run([*command, "--find-links", str(wheelhouse), *requirements], "installing")
    print(
        f"installed into {venv}: {', '.join(r.split(' @ ')[0] for r in requirements)}", flush=True
    )


def verify(venv: Path, selections: list[Selection]) -> dict[str, list[str]]:
    """Check the installed plugins are exactly the selected ones and all load; return each
    plugin distribution's task types."""
    env = {k: v for k, v in os.environ.items() if k not in _ISOLATED_ENV}
    agenthost = str(_venv_bin(venv, "agenthost"))
    listing = json.loads(_run([agenthost, "plugins", "--json"], "agenthost plugins", env))
    plugins = [
        p for p in listing["plugins"] if normalize(p["distribution"] or "") != HOST_DISTRIBUTION
    ]
    broken = [
        f"{p['name']}: {p['status']} {p['reason'] or ''}".strip()
        for p in plugins
        if p["status"] != "loaded"
    ]
    if broken:
        raise InstallError("plugins did not load: " + "; ".join(broken))
    installed = {normalize(p["distribution"]) for p in plugins}
    wanted = {s.distribution for s in selections}
    if installed != wanted:
        raise InstallError(
            f"installed plugins {sorted(installed)} are not the selected {sorted(wanted)}"
        )
    _run([agenthost, "check"], "agenthost check", env)
    task_types: dict[str, list[str]] = {}
    for plugin in plugins:
        names = [t["name"] for a in plugin["agents"] for t in a["task_types"]]
        task_types.setdefault(normalize(plugin["distribution"]), []).extend(names)
    for name, types in sorted(task_types.items()):
        print(f"verified {name}: {', '.join(types)}", flush=True)
    return task_types


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="build the wheels of the host and the plugins")
    build_cmd.add_argument("--out", type=Path, required=True)
    build_cmd.add_argument("--source", type=Path, default=REPO_ROOT, help="repository root")
    install_cmd = commands.add_parser("install", help="install into a venv, then verify")
    install_cmd.add_argument("--wheelhouse", type=Path, required=True)
    install_cmd.add_argument("--venv", type=Path, required=True)
    verify_cmd = commands.add_parser("verify", help="check a venv serves exactly the plugins")
    verify_cmd.add_argument("--venv", type=Path, required=True)
    for command in (build_cmd, install_cmd, verify_cmd):
        command.add_argument("plugins", nargs="*", metavar="PLUGIN")
    args = parser.parse_args(argv)
    root = getattr(args, "source", REPO_ROOT)
    try:
        selections = parse_selection(args.plugins, set(repository_distributions(root)))
        if args.command == "build":
            build(args.out, selections, root)
        elif args.command == "install":
            install(args.wheelhouse, args.venv, selections)
            verify(args.venv, selections)
        else:
            verify(args.venv, selections)
    except InstallError as exc:
        print(f"install.py {args.command}: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
