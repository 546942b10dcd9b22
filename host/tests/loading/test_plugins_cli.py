"""`agenthost plugins --json` and `agenthost check` against real throwaway distributions."""

from __future__ import annotations

import json
from typing import Any

import pytest

SEED_STYLE = """
from dataclasses import dataclass
from agenthost import AgentRegistry, AsyncAgentBase, Resource, ResourceMeta, Phase

AGENTHOST_PLUGIN_API = ">=1.0,<2"

@dataclass
class JobMeta(ResourceMeta):
    job_id: str

class SeedAgent(AsyncAgentBase):
    def __init__(self):
        super().__init__(task_type_name="seed_job", metadata_type=JobMeta)

    def create(self, task_template, inputs=None, **kwargs):
        return JobMeta(job_id="1")

    def get(self, resource_meta, **kwargs):
        return Resource(phase=Phase.SUCCEEDED)

    def delete(self, resource_meta, **kwargs):
        pass

AgentRegistry.register(SeedAgent())
"""

HOOK_STYLE = """
import agenthost
from agenthost import SyncAgentBase, Resource

class Echo(SyncAgentBase):
    def __init__(self):
        super().__init__(task_type_name="echo", task_type_version=2)

    async def do(self, task_template, inputs=None, **kwargs):
        return Resource.succeeded({})

@agenthost.hookimpl
def register_agents(register):
    register(Echo())
"""

SENSOR_CLASS = """
from agenthost import BaseSensor

class PathSensor(BaseSensor):
    aliases = (("flytekit.sensor.file_sensor", "FileSensor"),)

    def __init__(self):
        super().__init__(task_type="path_sensor")

    def poke(self, path: str) -> bool:
        return True
"""


def plugins_json(site: Any, *args: str) -> dict[str, Any]:
    result = site.run("plugins", "--json", *args)
    assert result.returncode == 0, result.stderr
    listing: dict[str, Any] = json.loads(result.stdout)
    return listing


def by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in data["plugins"]}


@pytest.fixture
def good_site(plugin_site: Any) -> Any:
    plugin_site.add("agent-seed", {"seed": "seed_plugin"}, {"seed_plugin.py": SEED_STYLE})
    plugin_site.add("agent-hook", {"hook": "hook_plugin"}, {"hook_plugin.py": HOOK_STYLE})
    plugin_site.add(
        "agent-path", {"path": "path_plugin:PathSensor"}, {"path_plugin.py": SENSOR_CLASS}
    )
    return plugin_site


def test_lists_every_style_of_plugin_with_its_agents(good_site: Any) -> None:
    data = plugins_json(good_site)
    plugins = by_name(data)
    assert data["agenthost"]["plugin_api"] == "1.1"
    seed = plugins["seed"]
    assert (seed["distribution"], seed["version"], seed["status"]) == (
        "agent-seed",
        "1.0.0",
        "loaded",
    )
    assert seed["entry_point"] == "seed_plugin"
    assert seed["agents"] == [
        {"name": "SeedAgent", "kind": "async", "task_types": [{"name": "seed_job", "version": 0}]}
    ]
    assert seed["warnings"] == []
    hook = plugins["hook"]
    assert hook["agents"][0]["kind"] == "sync"
    assert hook["agents"][0]["task_types"] == [{"name": "echo", "version": 2}]
    assert hook["warnings"] == ["declares no AGENTHOST_PLUGIN_API range"]
    assert plugins["path"]["agents"][0]["kind"] == "sensor"
    router = plugins["sensor-router"]
    assert router["distribution"] == "agenthost"
    assert router["agents"][0]["task_types"] == [{"name": "sensor", "version": 0}]


def test_text_listing_shows_each_agent(good_site: Any) -> None:
    out = good_site.run("plugins").stdout
    assert "agent-seed" in out and "seed_job v0" in out and "echo v2" in out


def test_check_passes_for_healthy_plugins_and_strict_fails_on_warnings(good_site: Any) -> None:
    ok = good_site.run("check")
    assert ok.returncode == 0, ok.stdout
    assert "4 plugin(s) loaded with 4 agent(s), 0 failed" in ok.stdout
    strict = good_site.run("check", "--strict")
    assert strict.returncode == 1
    assert "WARN hook [agent-hook 1.0.0]: declares no AGENTHOST_PLUGIN_API range" in strict.stdout


BROKEN = {
    "import-error": (
        "import_error_plugin",
        "import nonexistent_dependency_xyz\n",
        "import failed: ModuleNotFoundError: No module named 'nonexistent_dependency_xyz'",
    ),
    "sys-exit": ("sys_exit_plugin", "import sys\nsys.exit(3)\n", "import failed: SystemExit: 3"),
    "base-exception": (
        "base_exc_plugin",
        "raise BaseException('boom')\n",
        "import failed: BaseException: boom",
    ),
    "missing-method": (
        "missing_method_plugin",
        """
from dataclasses import dataclass
from agenthost import AgentRegistry, AsyncAgentBase, ResourceMeta

@dataclass
class M(ResourceMeta):
    job_id: str

class NoGet(AsyncAgentBase):
    def __init__(self):
        super().__init__(task_type_name="no_get", metadata_type=M)
    def create(self, task_template, inputs=None, **kwargs):
        return M("1")
    def delete(self, resource_meta, **kwargs):
        pass

AgentRegistry.register(NoGet())
""",
        "NoGet does not implement get()",
    ),
    "wrong-signature": (
        "wrong_sig_plugin",
        """
from agenthost import AgentRegistry, SyncAgentBase

class NoArgs(SyncAgentBase):
    def __init__(self):
        super().__init__(task_type_name="no_args")
    def do(self):
        return None

AgentRegistry.register(NoArgs())
""",
        "NoArgs.do() must accept task_template (takes 0 argument(s))",
    ),
    "misspelt-hook": (
        "misspelt_plugin",
        """
import agenthost

@agenthost.hookimpl
def register_agent(register):
    pass
""",
        "invalid hook implementation: PluginValidationError: unknown hook 'register_agent'",
    ),
    "bad-metadata": (
        "bad_meta_plugin",
        """
from dataclasses import dataclass
from agenthost import AgentRegistry, AsyncAgentBase, ResourceMeta

@dataclass
class Meta(ResourceMeta):
    seen: set

class BadMeta(AsyncAgentBase):
    def __init__(self):
        super().__init__(task_type_name="bad_meta", metadata_type=Meta)
    def create(self, task_template, inputs=None, **kwargs): ...
    def get(self, resource_meta, **kwargs): ...
    def delete(self, resource_meta, **kwargs): ...

AgentRegistry.register(BadMeta())
""",
        "BadMeta: metadata_type Meta field 'seen' has type <class 'set'>, which is not JSON-representable",
    ),
    "bad-task-type": (
        "bad_type_plugin",
        """
from agenthost import AgentRegistry, SyncAgentBase

class Blank(SyncAgentBase):
    def __init__(self):
        super().__init__(task_type_name="")
    def do(self, task_template, inputs=None, **kwargs): ...

AgentRegistry.register(Blank())
""",
        "Blank has an invalid task type name ''",
    ),
    "future-api": (
        "future_api_plugin",
        """
from agenthost import AgentRegistry, SyncAgentBase
AGENTHOST_PLUGIN_API = ">=2.0"

class Future(SyncAgentBase):
    def __init__(self):
        super().__init__(task_type_name="future")
    def do(self, task_template, inputs=None, **kwargs): ...

AgentRegistry.register(Future())
""",
        "requires agenthost plugin API >=2.0, but this host (agenthost 0.1.0) provides 1.1",
    ),
    "raises-in-hook": (
        "raising_hook_plugin",
        """
import agenthost

@agenthost.hookimpl
def register_agents(register):
    raise RuntimeError("no credentials configured")
""",
        "register_agents raised RuntimeError: no credentials configured",
    ),
    "not-an-agent": (
        "not_agent_plugin",
        "VALUE = 3\n",
        "registered no agents and implements no hooks",
    ),
}


@pytest.fixture
def broken_site(good_site: Any) -> Any:
    for dist, (module, source, _) in BROKEN.items():
        good_site.add(f"agent-{dist}", {dist: module}, {f"{module}.py": source})
    good_site.add(
        "agent-twin",
        {"dup": "dup_plugin"},
        {"dup_plugin.py": SEED_STYLE.replace("SeedAgent", "DupAgent")},
        version="0.3.0",
    )
    return good_site


def test_one_broken_plugin_never_hides_the_good_ones(broken_site: Any) -> None:
    plugins = by_name(plugins_json(broken_site))
    for name in ("seed", "hook", "path", "sensor-router"):
        assert plugins[name]["status"] == "loaded", plugins[name]
    for dist, (_, _, reason) in BROKEN.items():
        report = plugins[dist]
        assert report["status"] == "failed", report
        assert report["distribution"] == f"agent-{dist}"
        assert report["reason"] == reason
        assert report["agents"] == []
    dup = plugins["dup"]
    assert dup["status"] == "failed"
    assert dup["reason"] == (
        "task type seed_job (v0) is already served by seed [agent-seed 1.0.0]; "
        "also claimed by dup [agent-twin 0.3.0]"
    )


def test_check_names_every_failed_plugin_and_exits_non_zero(broken_site: Any) -> None:
    result = broken_site.run("check")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    for dist, (_, _, reason) in BROKEN.items():
        assert f"FAIL {dist} [agent-{dist} 1.0.0]: {reason}" in lines
    assert "Traceback" not in result.stdout + result.stderr
    assert lines[-1] == f"4 plugin(s) loaded with 4 agent(s), {len(BROKEN) + 1} failed"


def test_allow_and_block_lists(good_site: Any) -> None:
    plugins = by_name(plugins_json(good_site, "--allow", "agent-seed,hook"))
    assert plugins["seed"]["status"] == "loaded"
    assert plugins["hook"]["status"] == "loaded"
    assert plugins["path"]["status"] == "blocked"
    assert plugins["path"]["reason"] == "not in the allow list"
    assert "sensor-router" not in plugins

    env_block = good_site.env() | {"AGENTHOST_BLOCK": "agent_seed"}
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "agenthost", "plugins", "--json"],
        env=env_block,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    plugins = by_name(json.loads(out))
    assert plugins["seed"]["status"] == "blocked"
    assert plugins["seed"]["reason"] == "in the block list"
    assert plugins["hook"]["status"] == "loaded"


def test_validator_plugins_add_policies(good_site: Any) -> None:
    good_site.add(
        "agenthost-policy",
        {"policy": "policy_plugin"},
        {
            "policy_plugin.py": """
import agenthost

@agenthost.hookimpl
def validate_agent(agent):
    if agent.task_type_name == "echo":
        return ["task type 'echo' is not allowed by policy"]
    return None
"""
        },
    )
    plugins = by_name(plugins_json(good_site))
    assert plugins["policy"]["status"] == "loaded"
    assert plugins["hook"]["status"] == "failed"
    assert plugins["hook"]["reason"] == "task type 'echo' is not allowed by policy"
    assert plugins["seed"]["status"] == "loaded"


def test_extra_modules_load_as_plugins(plugin_site: Any) -> None:
    (plugin_site.root / "local_agents.py").write_text(HOOK_STYLE)
    plugins = by_name(plugins_json(plugin_site, "--modules", "local_agents"))
    assert plugins["module:local_agents"]["status"] == "loaded"
    assert plugins["module:local_agents"]["distribution"] is None
