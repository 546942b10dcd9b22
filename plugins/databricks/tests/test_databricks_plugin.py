"""The distribution as the host sees it: listed, validated strictly, and cheap to load."""

from __future__ import annotations

import json
import subprocess
import sys


def agenthost(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agenthost", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_listed_with_both_task_types_and_strict_check_passes() -> None:
    listing = agenthost("plugins", "--json", "--allow", "agent-databricks")
    assert listing.returncode == 0, listing.stderr
    (plugin,) = [
        p for p in json.loads(listing.stdout)["plugins"] if p["distribution"] == "agent-databricks"
    ]
    assert plugin["status"] == "loaded" and plugin["problems"] == []
    types = {t["name"] for agent in plugin["agents"] for t in agent["task_types"]}
    assert types == {"spark", "databricks"}
    assert {agent["kind"] for agent in plugin["agents"]} == {"async"}
    check = agenthost("check", "--strict", "--allow", "agent-databricks")
    assert check.returncode == 0, check.stdout + check.stderr


def test_loading_the_plugin_imports_no_http_client() -> None:
    code = "import agent_databricks.plugin, json, sys; print(json.dumps(sorted(sys.modules)))"
    modules = set(json.loads(subprocess.check_output([sys.executable, "-c", code], text=True)))
    assert not {"aiohttp", "yarl", "multidict"} & modules
