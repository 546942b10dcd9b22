"""Load plugins: import each in isolation, take its agents however it hands them over, and
check them; every plugin gets a report, and one that fails never stops the others.

A plugin hands over agents in one of four ways: a ``register_agents`` hook implementation
(the documented one), ``AgentRegistry.register`` calls at import, an entry point naming an
agent class (instantiated without arguments) or an agent instance. A plugin that fails (import
error, exception while registering, misspelt hook, failed validation, incompatible API range,
duplicate task type) is recorded with a one-line reason and the host carries on with the rest;
``strict=True`` turns any failure into an error.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Sequence
from typing import Any

import pluggy

from agenthost import hookspecs
from agenthost.agent import AgentBase
from agenthost.errors import summarize
from agenthost.loading import validation
from agenthost.loading.checks import check_api_range, reject_duplicates, sensor_router, validate
from agenthost.loading.discovery import ENTRY_POINT_GROUP, Candidate, discover, matches
from agenthost.loading.report import LoadResult, PluginLoadError, PluginReport
from agenthost.registry import AgentRegistry
from agenthost.version import __version__

logger = logging.getLogger("agenthost.plugins")


def make_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager with agenthost's hook specs and the built-in validators."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    pm.register(validation, name="agenthost.validation")
    return pm


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
    candidates += [Candidate(f"module:{m}", m, m, None, None, None) for m in modules]
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
            if matches(candidate, block):
                report.status, report.reason = "blocked", "in the block list"
                continue
            if allow is not None and not matches(candidate, allow):
                report.status, report.reason = "blocked", "not in the allow list"
                continue
        loading.append((candidate, report))
    plugin_modules = {candidate.module for candidate, _report in loading}
    for candidate, report in loading:
        _load_one(pm, candidate, report, plugin_modules)

    for report in reports:
        if report.status == "loaded":
            validate(pm, report)
    reject_duplicates(reports)
    agents = [a for r in reports if r.status == "loaded" for a in r.agents]
    router = sensor_router(agents)
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


def _owner(module: str, plugin_modules: set[str]) -> str | None:
    """The plugin module that ``module`` is (or is a submodule of), the most specific one."""
    while module:
        if module in plugin_modules:
            return module
        module = module.rpartition(".")[0]
    return None


def _registered_agents(
    candidate: Candidate, during_import: list[tuple[str, AgentBase]], plugin_modules: set[str]
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
    candidate: Candidate,
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
        report.fail(f"import failed: {summarize(exc)}")
        return
    agents = _registered_agents(candidate, AgentRegistry.drain_with_modules(), plugin_modules)
    has_hooks = False
    if not isinstance(obj, (type, AgentBase)):
        try:
            has_hooks = _register_hooks(pm, obj, candidate.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            # pluggy appends the plugin's repr (with its file path); the name is in the report.
            report.fail(f"invalid hook implementation: {summarize(exc).split(' in plugin ')[0]}")
            return
    if has_hooks:
        for impl in pm.hook.register_agents.get_hookimpls():
            if impl.plugin is obj:
                try:
                    impl.function(register=agents.append)
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:
                    report.fail(f"register_agents raised {summarize(exc)}")
                    return
    elif isinstance(obj, type) and issubclass(obj, AgentBase):
        try:
            agents.append(obj())  # type: ignore[call-arg]  # plugin classes take no arguments
        except Exception as exc:
            report.fail(f"could not instantiate {obj.__name__}: {summarize(exc)}")
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
    check_api_range(candidate, report)


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
