"""Discover plugins through the ``flyte.agents`` entry-point group, load each in isolation,
validate their agents through pluggy hooks, and report what happened to every one of them.

A plugin that fails (import error, exception while registering, misspelt hook, failed
validation, incompatible API range, duplicate task type) is recorded with a one-line reason
and the host carries on with the rest; ``strict=True`` turns any failure into an error.
"""

from __future__ import annotations

import importlib
import logging
import sys
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import pluggy
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from agenthost import hookspecs, validation
from agenthost.agent import AgentBase, SyncAgentBase, TaskCategory
from agenthost.errors import AgentHostError
from agenthost.registry import AgentRegistry
from agenthost.sensor import BaseSensor, SensorRouter
from agenthost.version import PLUGIN_API_VERSION, __version__

if sys.version_info >= (3, 12):
    from importlib import metadata
else:
    import importlib_metadata as metadata

ENTRY_POINT_GROUP = "flyte.agents"
"""The entry-point group agenthost discovers plugins in."""

API_ATTRIBUTE = "AGENTHOST_PLUGIN_API"
"""Module attribute through which a plugin declares the host plugin-API range it supports."""

Status = Literal["loaded", "failed", "blocked"]
logger = logging.getLogger(__name__)


class PluginLoadError(AgentHostError):
    """Raised in strict mode when any plugin failed; lists every failure."""

    def __init__(self, failures: Sequence[PluginReport]) -> None:
        self.failures = list(failures)
        lines = [f"{r.label}: {r.reason}" for r in self.failures]
        super().__init__(f"{len(lines)} plugin(s) failed: " + "; ".join(lines))


def agent_kind(agent: AgentBase) -> str:
    """``"sensor"``, ``"sync"`` or ``"async"``."""
    if isinstance(agent, BaseSensor):
        return "sensor"
    return "sync" if isinstance(agent, SyncAgentBase) else "async"


@dataclass
class PluginReport:
    """What happened to one plugin (one entry point, or one ``--modules`` module)."""

    name: str
    entry_point: str
    distribution: str | None = None
    version: str | None = None
    status: Status = "loaded"
    reason: str | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    agents: list[AgentBase] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``distribution version (entry point)``, for messages."""
        dist = f"{self.distribution} {self.version}" if self.distribution else "no distribution"
        return f"{self.name} [{dist}]"

    def fail(self, reason: str, problems: Iterable[str] = ()) -> None:
        """Mark this plugin failed with a one-line ``reason``."""
        self.status = "failed"
        self.reason = reason.splitlines()[0] if reason else "failed"
        self.problems = list(problems) or [self.reason]
        self.agents = []

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape documented in docs/cli.md."""
        return {
            "name": self.name,
            "entry_point": self.entry_point,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "reason": self.reason,
            "problems": self.problems,
            "warnings": self.warnings,
            "agents": [
                {
                    "name": a.name,
                    "kind": agent_kind(a),
                    "task_types": [
                        {"name": a.task_category.name, "version": a.task_category.version}
                    ],
                }
                for a in self.agents
            ],
        }


@dataclass
class LoadResult:
    """Every plugin's report and the agents that passed, in a deterministic order."""

    plugins: list[PluginReport]
    agents: list[AgentBase]

    @property
    def failed(self) -> list[PluginReport]:
        """Reports of plugins that failed."""
        return [p for p in self.plugins if p.status == "failed"]

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape of ``agenthost plugins --json``."""
        return {
            "agenthost": {"version": __version__, "plugin_api": PLUGIN_API_VERSION},
            "plugins": [p.to_dict() for p in self.plugins],
        }


def make_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager with agenthost's hook specs and the built-in validators."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    pm.register(validation, name="agenthost.validation")
    return pm


@dataclass
class _Candidate:
    name: str
    value: str
    module: str
    distribution: str | None
    version: str | None
    entry_point: metadata.EntryPoint | None

    def load(self) -> Any:
        if self.entry_point is not None:
            return self.entry_point.load()
        return importlib.import_module(self.module)


def discover(group: str = ENTRY_POINT_GROUP) -> list[_Candidate]:
    """Every entry point in ``group``, sorted by distribution then entry-point name."""
    found = []
    for ep in metadata.entry_points(group=group):
        dist = getattr(ep, "dist", None)
        found.append(
            _Candidate(
                name=ep.name,
                value=ep.value,
                module=ep.module,
                distribution=dist.name if dist else None,
                version=dist.version if dist else None,
                entry_point=ep,
            )
        )
    return sorted(found, key=lambda c: (canonicalize_name(c.distribution or ""), c.name))


def _matches(candidate: _Candidate, names: Iterable[str]) -> bool:
    wanted = {canonicalize_name(n) for n in names if n}
    own = {canonicalize_name(candidate.name)}
    if candidate.distribution:
        own.add(canonicalize_name(candidate.distribution))
    return bool(wanted & own)


def load_plugins(
    allow: Sequence[str] | None = None,
    block: Sequence[str] = (),
    modules: Sequence[str] = (),
    strict: bool = False,
    *,
    group: str = ENTRY_POINT_GROUP,
) -> LoadResult:
    """Discover, load and validate every plugin; see the module docstring.

    ``allow`` (if given) and ``block`` name distributions or entry points; ``modules`` are
    extra modules to import as plugins (they are never subject to ``allow``).
    """
    pm = make_plugin_manager()
    candidates = discover(group)
    candidates += [_Candidate(f"module:{m}", m, m, None, None, None) for m in modules]
    reports: list[PluginReport] = []
    loading = []
    for candidate in candidates:
        report = PluginReport(
            name=candidate.name,
            entry_point=candidate.value,
            distribution=candidate.distribution,
            version=candidate.version,
        )
        reports.append(report)
        if candidate.entry_point is not None:
            if _matches(candidate, block):
                report.status, report.reason = "blocked", "in the block list"
                continue
            if allow is not None and not _matches(candidate, allow):
                report.status, report.reason = "blocked", "not in the allow list"
                continue
        loading.append((candidate, report))
    plugin_modules = {candidate.module for candidate, _report in loading}
    for candidate, report in loading:
        _load_one(pm, candidate, report, plugin_modules)

    for report in reports:
        if report.status == "loaded":
            _validate(pm, report)
    _reject_duplicates(reports)
    agents = [a for r in reports if r.status == "loaded" for a in r.agents]
    router = _sensor_router(agents)
    if router is not None:
        reports.append(
            PluginReport(
                name="sensor-router",
                entry_point="agenthost.sensor:SensorRouter",
                distribution="agenthost",
                version=__version__,
                agents=[router],
            )
        )
        agents.append(router)
    result = LoadResult(plugins=reports, agents=agents)
    for report in result.failed:
        logger.warning("plugin %s failed: %s", report.label, report.reason)
    if strict and result.failed:
        raise PluginLoadError(result.failed)
    return result


def _summary(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _owner(module: str, plugin_modules: set[str]) -> str | None:
    """The plugin module that ``module`` is (or is a submodule of), the most specific one."""
    while module:
        if module in plugin_modules:
            return module
        module = module.rpartition(".")[0]
    return None


def _registered_agents(
    candidate: _Candidate, during_import: list[tuple[str, AgentBase]], plugin_modules: set[str]
) -> list[AgentBase]:
    """The agents of ``candidate``: those its module (or a submodule) registered, whenever that
    module was imported, plus those other modules registered during its import that belong to
    no other plugin being loaded."""
    agents = [
        agent
        for module, agent in AgentRegistry.registered_by(candidate.module)
        if _owner(module, plugin_modules) == candidate.module
    ]
    for module, agent in during_import:
        if _owner(module, plugin_modules) is None and all(agent is not a for a in agents):
            agents.append(agent)
    return agents


def _load_one(
    pm: pluggy.PluginManager,
    candidate: _Candidate,
    report: PluginReport,
    plugin_modules: set[str],
) -> None:
    AgentRegistry.drain()
    try:
        obj = candidate.load()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit and friends from a plugin must not stop the host
        logger.debug("import of plugin %s failed", report.label, exc_info=True)
        report.fail(f"import failed: {_summary(exc)}")
        return
    agents = _registered_agents(candidate, AgentRegistry.drain_with_modules(), plugin_modules)
    has_hooks = False
    if not isinstance(obj, (type, AgentBase)):
        try:
            has_hooks = _register_hooks(pm, obj, candidate.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            # pluggy appends the plugin's repr (with its file path); the name is in the report.
            report.fail(f"invalid hook implementation: {_summary(exc).split(' in plugin ')[0]}")
            return
    if has_hooks:
        for impl in pm.hook.register_agents.get_hookimpls():
            if impl.plugin is obj:
                try:
                    impl.function(register=agents.append)
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:
                    report.fail(f"register_agents raised {_summary(exc)}")
                    return
    elif isinstance(obj, type) and issubclass(obj, AgentBase):
        try:
            agents.append(obj())  # type: ignore[call-arg]  # plugin classes take no arguments
        except Exception as exc:
            report.fail(f"could not instantiate {obj.__name__}: {_summary(exc)}")
            return
    elif isinstance(obj, AgentBase):
        agents.append(obj)
    elif not isinstance(obj, types.ModuleType) and not agents:
        report.fail(
            f"entry point {candidate.value!r} names a {type(obj).__name__}, not a module, "
            "agent class or agent instance"
        )
        return
    if not agents and not has_hooks:
        report.fail("registered no agents and implements no hooks")
        return
    report.agents = agents
    _check_api_range(candidate, report)


def _register_hooks(pm: pluggy.PluginManager, obj: Any, name: str) -> bool:
    """Register ``obj``'s hook implementations, if it has any; False if it has none."""
    if not any(pm.parse_hookimpl_opts(obj, attr) is not None for attr in dir(obj)):
        return False
    pm.register(obj, name=name)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError:
        pm.unregister(obj)
        raise
    return True


def _check_api_range(candidate: _Candidate, report: PluginReport) -> None:
    module = sys.modules.get(candidate.module)
    declared = getattr(module, API_ATTRIBUTE, None)
    if declared is None:
        report.warnings.append(f"declares no {API_ATTRIBUTE} range")
        return
    try:
        spec = SpecifierSet(str(declared))
    except InvalidSpecifier:
        report.fail(f"invalid {API_ATTRIBUTE} {declared!r}")
        return
    if not spec.contains(PLUGIN_API_VERSION, prereleases=True):
        report.fail(
            f"requires agenthost plugin API {declared}, but this host (agenthost {__version__}) "
            f"provides {PLUGIN_API_VERSION}"
        )


def _validate(pm: pluggy.PluginManager, report: PluginReport) -> None:
    problems: list[str] = []
    for agent in report.agents:
        for impl in pm.hook.validate_agent.get_hookimpls():
            try:
                found = cast("list[str] | None", impl.function(agent=agent))
            except Exception as exc:
                found = [f"validator {impl.plugin_name} raised {_summary(exc)}"]
            problems += [str(p) for p in found or ()]
    if problems:
        report.fail(problems[0], problems)


def _reject_duplicates(reports: list[PluginReport]) -> None:
    owners: dict[TaskCategory, PluginReport] = {}
    for report in reports:
        if report.status != "loaded":
            continue
        clashes = []
        mine: set[TaskCategory] = set()
        for agent in report.agents:
            category = agent.task_category
            if category in mine:
                clashes.append(f"task type {category} is registered twice by {report.label}")
            elif category in owners:
                clashes.append(
                    f"task type {category} is already served by {owners[category].label}; "
                    f"also claimed by {report.label}"
                )
            mine.add(category)
        if clashes:
            report.fail(clashes[0], clashes)
        else:
            owners.update(dict.fromkeys(mine, report))


def _sensor_router(agents: list[AgentBase]) -> SensorRouter | None:
    sensors = [a for a in agents if isinstance(a, BaseSensor)]
    if not any(s.aliases for s in sensors):
        return None
    if any(a.task_category == TaskCategory(SensorRouter.TASK_TYPE, 0) for a in agents):
        return None
    return SensorRouter(sensors)
