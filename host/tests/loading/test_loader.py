"""The plugin loader in process: a fresh plugin manager per load (``load_plugins`` makes one),
plugins as on-disk distributions (a dist-info with entry points, found by importlib.metadata
on ``sys.path``) under a group of the test's own, or as inline modules given by name."""

from __future__ import annotations

import logging
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable
from typing import Any

import pluggy
import pytest

from agenthost import Resource, SyncAgentBase, hookimpl
from agenthost.loading import PluginLoadError, load_plugins, make_plugin_manager
from agenthost.loading.report import PluginReport

DIST_AGENT = """
from agenthost import AgentRegistry, Resource, SyncAgentBase, hookimpl

AGENTHOST_PLUGIN_API = ">=1,<99"


class Echo(SyncAgentBase):
    def __init__(self, task_type="{task}"):
        super().__init__(task_type, name="Echo_" + task_type.replace("-", "_"))

    def do(self, task_template, inputs=None):
        return Resource.succeeded()


@hookimpl
def register_agents(register):
    register(Echo("{task}-hook"))


class Plugin:
    @hookimpl
    def register_agents(self, register):
        register(Echo("{task}-object"))


plugin = Plugin()
instance = Echo("{task}-instance")
"""

SEED_STYLE = """
from agenthost import AgentRegistry, Resource, SyncAgentBase


class Seed(SyncAgentBase):
    def do(self, task_template, inputs=None):
        return Resource.succeeded()


AgentRegistry.register(Seed("{task}"))
"""
"""A seed-style plugin module: its agent registered at import."""


class Site:
    """Distributions written under ``tmp_path`` (on ``sys.path``), each with entry points in
    this test's own group."""

    def __init__(self, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = tmp_path
        self.group = f"agenthost.test.{uuid.uuid4().hex}"
        monkeypatch.syspath_prepend(str(tmp_path))
        self.monkeypatch = monkeypatch

    def add(self, dist: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
        for name, source in modules.items():
            (self.root / f"{name}.py").write_text(source)
            self.monkeypatch.delitem(sys.modules, name, raising=False)
        info = self.root / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
        (info / "entry_points.txt").write_text(f"[{self.group}]\n{lines}\n")

    def load(self, **options: Any) -> dict[str, PluginReport]:
        result = load_plugins(group=self.group, **options)
        return {r.name: r for r in result.plugins}


@pytest.fixture
def site(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Site:
    return Site(tmp_path, monkeypatch)


def _module(monkeypatch: pytest.MonkeyPatch, name: str, **attrs: Any) -> str:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    monkeypatch.setitem(sys.modules, name, module)
    return name


class Echo(SyncAgentBase):
    def __init__(self, task_type: str) -> None:
        super().__init__(task_type, name=f"Echo_{task_type}")

    def do(self, task_template: Any, inputs: Any = None) -> Resource:
        return Resource.succeeded()


def test_every_registration_style_hands_over_its_agents(site: Site) -> None:
    uid = uuid.uuid4().hex[:8]
    module = f"styles_{uid}"
    site.add(
        "styles-dist",
        {
            "hook": module,
            "object": f"{module}:plugin",
            "cls": f"{module}:Echo",
            "instance": f"{module}:instance",
        },
        {module: DIST_AGENT.replace("{task}", f"t{uid}")},
    )
    reports = site.load()
    assert {n: r.status for n, r in reports.items()} == dict.fromkeys(
        ("cls", "hook", "instance", "object"), "loaded"
    )
    types_of = {n: [a.task_category.name for a in r.agents] for n, r in reports.items()}
    assert types_of == {
        "cls": [f"t{uid}"],
        "hook": [f"t{uid}-hook"],
        "instance": [f"t{uid}-instance"],
        "object": [f"t{uid}-object"],
    }
    assert all(r.distribution == "styles-dist" and not r.warnings for r in reports.values())


def test_a_module_registering_at_import_is_attributed_its_agents(site: Site) -> None:
    uid = uuid.uuid4().hex[:8]
    source = SEED_STYLE.format(task=f"seed{uid}")
    site.add("seed-dist", {"seed": f"seed_{uid}"}, {f"seed_{uid}": source})
    report = site.load()["seed"]
    assert report.status == "loaded"
    assert [a.task_category.name for a in report.agents] == [f"seed{uid}"]
    assert report.warnings == ["declares no AGENTHOST_PLUGIN_API range"]


def test_a_seed_module_imported_before_the_loader_keeps_its_agents(site: Site) -> None:
    uid = uuid.uuid4().hex[:8]
    source = SEED_STYLE.format(task=f"early{uid}")
    site.add("early-dist", {"early": f"early_{uid}"}, {f"early_{uid}": source})
    __import__(f"early_{uid}")  # as a test (or another plugin) would, before the loader runs
    report = site.load()["early"]
    assert (report.status, report.reason) == ("loaded", None)
    assert [a.task_category.name for a in report.agents] == [f"early{uid}"]


def test_allow_and_block_lists_select_distributions(site: Site) -> None:
    uid = uuid.uuid4().hex[:8]
    for dist in ("alpha", "beta"):
        module = f"{dist}_{uid}"
        site.add(f"{dist}-dist", {dist: module}, {module: DIST_AGENT.replace("{task}", module)})
    blocked = site.load(block=["alpha-dist"])
    assert blocked["alpha"].status == "blocked" and blocked["beta"].status == "loaded"
    assert blocked["alpha"].reason == "in the block list"
    allowed = site.load(allow=["Alpha_Dist"])  # names compare normalized
    assert allowed["alpha"].status == "loaded"
    assert (allowed["beta"].status, allowed["beta"].reason) == ("blocked", "not in the allow list")


def test_a_task_type_claimed_twice_fails_naming_both_distributions(site: Site) -> None:
    uid = uuid.uuid4().hex[:8]
    same = DIST_AGENT.replace("{task}", f"dup{uid}")
    site.add("first-dist", {"first": f"first_{uid}"}, {f"first_{uid}": same})
    site.add("second-dist", {"second": f"second_{uid}"}, {f"second_{uid}": same})
    reports = site.load()
    assert reports["first"].status == "loaded"
    second = reports["second"]
    assert second.status == "failed" and second.agents == []
    assert "first [first-dist 1.0]" in str(second.reason)
    assert "second [second-dist 1.0]" in str(second.reason)
    with pytest.raises(PluginLoadError, match="second-dist"):
        site.load(strict=True)


def test_a_plugin_outside_its_api_range_fails(site: Site) -> None:
    uid = uuid.uuid4().hex[:8]
    source = DIST_AGENT.replace("{task}", f"api{uid}").replace(">=1,<99", ">=99")
    site.add("future-dist", {"future": f"future_{uid}"}, {f"future_{uid}": source})
    report = site.load()["future"]
    assert report.status == "failed"
    assert str(report.reason).startswith("requires agenthost plugin API >=99")


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("raise RuntimeError('no backend')\n", "import failed: RuntimeError: no backend"),
        ("import sys\nsys.exit(3)\n", "import failed: SystemExit: 3"),
        ("raise BaseException('boom')\n", "import failed: BaseException: boom"),
    ],
)
def test_a_plugin_whose_import_fails_does_not_stop_the_others(
    site: Site, source: str, reason: str
) -> None:
    uid = uuid.uuid4().hex[:8]
    site.add("broken-dist", {"broken": f"broken_{uid}"}, {f"broken_{uid}": source})
    good = DIST_AGENT.replace("{task}", f"good{uid}")
    site.add("good-dist", {"good": f"good_{uid}"}, {f"good_{uid}": good})
    reports = site.load()
    assert (reports["broken"].status, reports["broken"].reason) == ("failed", reason)
    assert reports["good"].status == "loaded"


def test_a_misspelt_hook_is_caught_by_check_pending(monkeypatch: pytest.MonkeyPatch) -> None:
    class Misspelt:
        @hookimpl
        def register_agent(self, register: Callable[[Any], None]) -> None:  # no such hook
            register(Echo("never"))

    class Right:
        @hookimpl
        def register_agents(self, register: Callable[[Any], None]) -> None:
            register(Echo(f"right{id(self)}"))

    pm = make_plugin_manager()
    pm.register(Right(), name="right")
    pm.check_pending()
    pm.register(Misspelt(), name="misspelt")
    with pytest.raises(pluggy.PluginValidationError, match="register_agent"):
        pm.check_pending()

    @hookimpl
    def register_agent(register: Callable[[Any], None]) -> None:
        register(Echo("never"))

    name = _module(monkeypatch, f"misspelt_{uuid.uuid4().hex[:8]}", register_agent=register_agent)
    (report,) = load_plugins(modules=[name], group=f"none.{name}").plugins
    assert report.status == "failed"
    assert str(report.reason).startswith("invalid hook implementation")
    assert str(report.reason).count("register_agent") >= 1


WRONG_HANDOVERS = """
from agenthost import Resource, SyncAgentBase, hookimpl


class NeedsArguments(SyncAgentBase):
    def __init__(self, task_type):
        super().__init__(task_type)

    def do(self, task_template, inputs=None):
        return Resource.succeeded()


class Raises:
    @hookimpl
    def register_agents(self, register):
        raise KeyError("no credentials")


number = 42
raises = Raises()
"""


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        (
            "NeedsArguments",
            "could not instantiate NeedsArguments: TypeError: "
            "NeedsArguments.__init__() missing 1 required positional argument: 'task_type'",
        ),
        ("number", "names a int, not a module, agent class or agent instance"),
        ("raises", "register_agents raised KeyError: 'no credentials'"),
    ],
)
def test_an_entry_point_that_hands_over_no_agents_rightly_fails(
    site: Site, target: str, reason: str
) -> None:
    module = f"wrong_{uuid.uuid4().hex[:8]}"
    site.add("wrong-dist", {"wrong": f"{module}:{target}"}, {module: WRONG_HANDOVERS})
    report = site.load()["wrong"]
    assert report.status == "failed"
    assert str(report.reason).endswith(reason)


SLOW_IMPORT = """
import threading

release = threading.Event()
release.wait(60)
"""
"""A plugin module whose import waits (as one waiting on a network would) until the test
sets its ``release`` event (the test reaches it through the half-imported module)."""


def test_a_plugin_that_takes_long_to_load_is_named_in_a_warning(
    site: Site, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from agenthost.loading import loader

    monkeypatch.setattr(loader, "SLOW_LOAD_WARNING", 0.2)
    monkeypatch.setattr(loader, "SLOW_LOAD_REPEAT", 0.2)
    uid = uuid.uuid4().hex[:8]
    module = f"slow_{uid}"
    site.add("slow-dist", {"slow": module}, {module: SLOW_IMPORT})
    reports: dict[str, PluginReport] = {}
    caplog.set_level(logging.WARNING, logger="agenthost.plugins")
    loading = threading.Thread(target=lambda: reports.update(site.load()))
    loading.start()
    try:
        deadline = time.monotonic() + 10
        while not any("slow-dist" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, "no warning named the slow plugin"
            time.sleep(0.02)
    finally:
        deadline = time.monotonic() + 10
        while module not in sys.modules and time.monotonic() < deadline:
            time.sleep(0.01)
        sys.modules[module].release.set()  # type: ignore[attr-defined]
        loading.join(10)
    warnings = [r.getMessage() for r in caplog.records if "has been loading" in r.getMessage()]
    assert warnings[0].startswith("plugin slow [slow-dist 1.0] has been loading for ")
    assert reports["slow"].status == "failed"  # it registered no agents, but it did load
    assert "registered no agents" in (reports["slow"].reason or "")
    deadline = time.monotonic() + 10  # the watch ends with the load
    while any(t.name == "agenthost-plugin-load" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the plugin-load watch outlived the load"
        time.sleep(0.02)
