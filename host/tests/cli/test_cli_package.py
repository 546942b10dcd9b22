"""The CLI is a package with a lazy group: importing ``agenthost.cli`` or asking for the top-level
help imports no command module, running a command imports its own module only, and every
command's help still works and is listed with its summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from agenthost.cli import COMMANDS, load_command

COMMAND_MODULES = sorted({f"agenthost.cli.{spec.module}" for spec in COMMANDS.values()})


def _modules_after(code: str) -> set[str]:
    """The ``agenthost.cli.*`` modules a fresh interpreter has loaded after running ``code``."""
    probe = (
        f"{code}\nimport json, sys\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('agenthost.'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def _run_app(*args: str) -> str:
    """Code that runs the ``agenthost`` app with ``args`` and swallows its ``SystemExit``."""
    return (
        "import contextlib, io\nfrom agenthost.cli import app\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        f"    app({list(args)!r}, prog_name='agenthost')"
    )


def test_importing_the_cli_loads_no_command_module() -> None:
    loaded = _modules_after("import agenthost.cli")
    assert not loaded & set(COMMAND_MODULES), sorted(loaded & set(COMMAND_MODULES))
    assert not any(m.startswith(("agenthost.server", "agenthost.run.")) for m in loaded)


def test_top_level_help_loads_no_command_module() -> None:
    loaded = _modules_after(_run_app("--help"))
    assert not loaded & set(COMMAND_MODULES)


def test_a_command_loads_only_its_own_module() -> None:
    loaded = _modules_after(_run_app("serve", "--help"))
    assert "agenthost.cli.serve" in loaded
    assert not loaded & (set(COMMAND_MODULES) - {"agenthost.cli.serve"})


def test_top_level_help_lists_every_command_with_its_summary() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agenthost", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert done.returncode == 0, done.stderr
    for name, spec in COMMANDS.items():
        assert name in done.stdout
        assert spec.summary in done.stdout, name


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_summary_is_the_first_line_of_the_commands_docstring(name: str) -> None:
    command = load_command(name)
    assert command.name == name
    assert (command.help or "").strip().splitlines()[0] == COMMANDS[name].summary


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_working_help(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agenthost", name, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert done.returncode == 0, done.stderr
    assert f"agenthost {name} [OPTIONS]" in done.stdout


def test_a_mistyped_command_is_still_suggested() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agenthost", "serv"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "'serve'" in done.stderr
