"""The checks a loaded plugin passes: its declared plugin-API range, the ``validate_agent``
hooks, no task type claimed twice; and the ``SensorRouter`` the host adds for sensor aliases."""

from __future__ import annotations

import sys
from typing import cast

import pluggy
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from agenthost.agent import AgentBase, TaskCategory
from agenthost.errors import summarize
from agenthost.loading.discovery import Candidate
from agenthost.loading.report import PluginReport
from agenthost.sensor import BaseSensor, SensorRouter
from agenthost.version import PLUGIN_API_VERSION, __version__

API_ATTRIBUTE = "AGENTHOST_PLUGIN_API"
"""Module attribute through which a plugin declares the host plugin-API range it supports."""


def check_api_range(candidate: Candidate, report: PluginReport) -> None:
    """Fail ``report`` if its plugin module declares an ``AGENTHOST_PLUGIN_API`` range this
    host is not in (no range: a warning)."""
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


def validate(pm: pluggy.PluginManager, report: PluginReport) -> None:
    """Run every ``validate_agent`` hook over the report's agents; fail it with what they
    found (a validator that raises is a problem too, named)."""
    problems: list[str] = []
    for agent in report.agents:
        for impl in pm.hook.validate_agent.get_hookimpls():
            try:
                found = cast("list[str] | None", impl.function(agent=agent))
            except Exception as exc:
                found = [f"validator {impl.plugin_name} raised {summarize(exc)}"]
            problems += [str(p) for p in found or ()]
    if problems:
        report.fail(problems[0], problems)


def reject_duplicates(reports: list[PluginReport]) -> None:
    """Fail every loaded plugin that claims a task type an earlier one (or itself) already
    serves, naming both distributions."""
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


def sensor_router(agents: list[AgentBase]) -> SensorRouter | None:
    """The ``SensorRouter`` serving sensors' aliases, if any sensor has one and no plugin
    serves the router's task type itself."""
    sensors = [a for a in agents if isinstance(a, BaseSensor)]
    if not any(s.aliases for s in sensors):
        return None
    if any(a.task_category == TaskCategory(SensorRouter.TASK_TYPE, 0) for a in agents):
        return None
    return SensorRouter(sensors)
