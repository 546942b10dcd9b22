"""Importing the SDK stays light; every hook is documented and tested."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from agenthost import hookspecs

REPO = Path(__file__).resolve().parents[2]


def test_importing_the_sdk_does_not_import_server_cli_or_plugins() -> None:
    code = "import agenthost, json, sys; print(json.dumps(sorted(sys.modules)))"
    modules = set(json.loads(subprocess.check_output([sys.executable, "-c", code], text=True)))
    assert "agenthost" in modules
    forbidden = {
        "grpc",
        "typer",
        "click",
        "rich",
        "prometheus_client",
        "agenthost.server",
        "agenthost.cli",
        "agenthost.plugins",
        "agent_bigquery",
        "agent_databricks",
        "agent_openai",
        "agent_file_sensor",
        "agent_snowflake",
        "google.cloud.bigquery",
        "openai",
        "aiohttp",
        "fsspec",
        "snowflake.connector",
        "flyteidl",
        "google.protobuf",
    }
    assert modules & forbidden == set()


def test_every_public_name_resolves_to_its_module_object() -> None:
    """The front imports each name from its module on first use: the same object, listed by
    ``dir``; a name it does not export is an ``AttributeError``."""
    code = """
import importlib, sys
import agenthost
assert "agenthost.resource" not in sys.modules
home_of = {n: module for module, names in agenthost._HOMES.items() for n in names}
assert sorted(home_of) == agenthost.__all__
for name in agenthost.__all__:
    home = importlib.import_module(home_of[name])
    assert getattr(agenthost, name) is getattr(home, name), name
    assert name in dir(agenthost), name
from agenthost import Resource, hookimpl
try:
    agenthost.no_such_name
except AttributeError as exc:
    assert "no_such_name" in str(exc)
else:
    raise SystemExit("no AttributeError")
print(len(agenthost.__all__))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout) >= 29


def _hook_names() -> list[str]:
    marker = f"{hookspecs.PROJECT_NAME}_spec"  # the attribute pluggy's @hookspec sets
    return sorted(name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), marker))


def test_there_are_hooks() -> None:
    assert _hook_names() == ["register_agents", "validate_agent"]


def test_every_hook_has_a_docstring_and_is_documented_with_an_example() -> None:
    docs = (REPO / "docs" / "plugins.md").read_text()
    for name in _hook_names():
        assert getattr(hookspecs, name).__doc__, name
        section = re.search(rf"^### `{name}\((.*?)^##", docs, re.MULTILINE | re.DOTALL)
        assert section, f"docs/plugins.md has no '### `{name}(...)`' section"
        assert "@agenthost.hookimpl" in section.group(0), f"{name} has no example in the docs"


def test_every_hook_is_exercised_by_a_test() -> None:
    tests = "".join(
        p.read_text()
        for p in (REPO / "host" / "tests").rglob("test_*.py")
        if p.name != Path(__file__).name
    )
    for name in _hook_names():
        assert f"def {name}(" in tests, f"no test implements the {name} hook"
