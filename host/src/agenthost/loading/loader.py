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
import threading
import time
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

SLOW_LOAD_WARNING = 10.0
"""Seconds one plugin may take to load (import and register) before a warning names it, and
then again every ``SLOW_LOAD_REPEAT`` seconds while it still loads: the server serves only once
every plugin has loaded, so an import that hangs (a plugin waiting on a network) is otherwise a
server that says nothing until a probe restarts it."""

SLOW_LOAD_REPEAT = 30.0


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
        blocked = _blocked(candidate, allow, block)
        if blocked:
            report.status, report.reason = "blocked", blocked
        else:
            loading.append((candidate, report))
    plugin_modules = {candidate.module for candidate, _report in loading}
    with _SlowLoadWatch() as watch:
        for candidate, report in loading:
            watch.loading(report.label)
            _load_one(pm, candidate, report, plugin_modules)

    for report in reports:
        if report.status == "loaded":
            validate(pm, report)
    reject_duplicates(reports)
    agents = [a for r in reports if r.status == "loaded" for a in r.agents]
    _add_sensor_router(reports, agents)
    result = LoadResult(plugins=reports, agents=agents)
    for report in result.failed:
        logger.warning("plugin %s failed: %s", report.label, report.reason)
    if strict and result.failed:
        raise PluginLoadError(result.failed)
    return result


class _SlowLoadWatch:
    """Warns, from a daemon thread, about the plugin that has been loading for more than
    ``SLOW_LOAD_WARNING`` seconds (``loading`` names the plugin now loading)."""

    def __init__(self) -> None:
        self._current: tuple[str, float] | None = None
        self._done = threading.Event()

    def loading(self, label: str) -> None:
        """``label``'s plugin starts loading now."""
        self._current = (label, time.monotonic())

    def __enter__(self) -> _SlowLoadWatch:
        threading.Thread(target=self._watch, name="agenthost-plugin-load", daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()

    def _watch(self) -> None:
        seen: tuple[str, float] | None = None
        next_warning = SLOW_LOAD_WARNING
        while not self._done.wait(min(1.0, SLOW_LOAD_WARNING)):
            current = self._current
            if current is None:
                continue
            if current is not seen:  # another plugin started loading
                seen, next_warning = current, SLOW_LOAD_WARNING
            elapsed = time.monotonic() - current[1]
            if elapsed >= next_warning and not self._done.is_set():
                logger.warning(
                    "plugin %s has been loading for %.0f s; the server serves once every "
                    "plugin has loaded (an import that waits on a network?)",
                    current[0],
                    elapsed,
                )
                next_warning += SLOW_LOAD_REPEAT


def _blocked(candidate: Candidate, allow: Sequence[str] | None, block: Sequence[str]) -> str | None:
    """Why ``candidate`` is not loaded, or None to load it. Extra modules are never blocked."""
    if candidate.entry_point is None:
        return None
    if matches(candidate, block):
        return "in the block list"
    if allow is not None and not matches(candidate, allow):
        return "not in the allow list"
    return None


def _add_sensor_router(reports: list[PluginReport], agents: list[AgentBase]) -> None:
    """Add the sensor router (with a report of its own) if ``agents`` include sensors."""
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
    try:
        has_hooks = _take_agents(pm, candidate, obj, agents)
    except _Refused as exc:
        report.fail(str(exc))
        return
    if not agents and not has_hooks:
        report.fail("registered no agents and implements no hooks")
        return
    report.agents = agents
    check_api_range(candidate, report)


class _Refused(Exception):
    """A plugin's agents cannot be taken; the message is the report's reason."""


def _take_agents(
    pm: pluggy.PluginManager, candidate: Candidate, obj: Any, agents: list[AgentBase]
) -> bool:
    """Add the agents the loaded ``obj`` hands over to ``agents``; whether it implements
    hooks. ``_Refused`` if it hands them over wrongly."""
    if isinstance(obj, AgentBase):
        agents.append(obj)
        return False
    if isinstance(obj, type):
        if issubclass(obj, AgentBase):
            agents.append(_instantiate(obj))
            return False
    elif _hook_agents(pm, obj, candidate.name, agents):
        return True
    if not isinstance(obj, types.ModuleType) and not agents:
        raise _Refused(
            f"entry point {candidate.value!r} names a {type(obj).__name__}, not a module, "
            "agent class or agent instance"
        )
    return False


def _instantiate(cls: type[AgentBase]) -> AgentBase:
    """An instance of the agent class an entry point names (plugin classes take no arguments)."""
    try:
        return cls()  # type: ignore[call-arg]
    except Exception as exc:
        raise _Refused(f"could not instantiate {cls.__name__}: {summarize(exc)}") from None


def _hook_agents(pm: pluggy.PluginManager, obj: Any, name: str, agents: list[AgentBase]) -> bool:
    """Register ``obj``'s hook implementations and add the agents its ``register_agents``
    registers; False if it implements no hooks."""
    try:
        if not _register_hooks(pm, obj, name):
            return False
    except (pluggy.PluginValidationError, ValueError) as exc:
        # pluggy appends the plugin's repr (with its file path); the name is in the report.
        reason = summarize(exc).split(" in plugin ")[0]
        raise _Refused(f"invalid hook implementation: {reason}") from None
    for impl in pm.hook.register_agents.get_hookimpls():
        if impl.plugin is obj:
            try:
                impl.function(register=agents.append)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                raise _Refused(f"register_agents raised {summarize(exc)}") from None
    return True


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
