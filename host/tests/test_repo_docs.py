"""The repository's own documents stay true to the tree (datasette's habit): CONTRIBUTING.md
lists exactly the nox sessions, every distribution's changelog has an Unreleased section, every
first-party plugin hands its agents over through ``agent_<x>.plugin``, the template README's
module table matches the plugin folders, CODEOWNERS names every plugin, and pre-commit's ruff
is one the noxfile accepts."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[2]
NOXFILE = REPO / "noxfile.py"
PLUGINS = sorted(p for p in (REPO / "plugins").iterdir() if (p / "pyproject.toml").is_file())
FIRST_PARTY = [p for p in PLUGINS if not p.name.startswith("_")]


def _noxfile() -> ast.Module:
    return ast.parse(NOXFILE.read_text(), str(NOXFILE))


def _is_session_decorator(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    return (
        isinstance(target, ast.Attribute)
        and target.attr == "session"
        and isinstance(target.value, ast.Name)
        and target.value.id == "nox"
    )


def nox_sessions() -> dict[str, ast.FunctionDef]:
    """Every ``@nox.session`` function of the noxfile by session name (a parametrised session,
    such as ``tests(agent-openai)``, by its function's name)."""
    sessions = {}
    for node in _noxfile().body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            if _is_session_decorator(decorator):
                name = node.name
                if isinstance(decorator, ast.Call):
                    for keyword in decorator.keywords:
                        if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                            name = str(keyword.value.value)
                sessions[name] = node
    return sessions


def documented_sessions() -> list[str]:
    """The sessions CONTRIBUTING.md's table lists, by the name its first cell starts with."""
    text = (REPO / "CONTRIBUTING.md").read_text()
    section = text.split("## nox sessions", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([A-Za-z_][A-Za-z0-9_-]*)", section, re.MULTILINE)


def test_contributing_lists_every_nox_session_once() -> None:
    sessions = nox_sessions()
    assert {"tests", "lint", "types", "e2e"} <= set(sessions)  # the parse found them
    listed = documented_sessions()
    assert sorted(listed) == sorted(set(listed)), "a session is listed twice"
    missing = sorted(set(sessions) - set(listed))
    gone = sorted(set(listed) - set(sessions))
    assert not missing, f"CONTRIBUTING.md does not list the nox sessions {missing}"
    assert not gone, f"CONTRIBUTING.md lists sessions the noxfile no longer has: {gone}"


def _distribution_folders() -> dict[str, str]:
    for node in _noxfile().body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "DISTRIBUTIONS":
            assert node.value is not None
            folders: dict[str, str] = ast.literal_eval(node.value)
            return folders
    raise AssertionError("noxfile.py has no DISTRIBUTIONS")


def test_every_distribution_is_in_the_noxfile() -> None:
    folders = set(_distribution_folders().values())
    assert folders == {"host", *(f"plugins/{p.name}" for p in FIRST_PARTY)}


@pytest.mark.parametrize("folder", ["host", *(f"plugins/{p.name}" for p in PLUGINS)])
def test_every_changelog_opens_with_an_unreleased_section(folder: str) -> None:
    text = (REPO / folder / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert headings, f"{folder}/CHANGELOG.md has no sections"
    assert headings[0] == "[Unreleased]", f"{folder}/CHANGELOG.md opens with {headings[0]!r}"


def _pyproject(plugin: Path) -> dict[str, Any]:
    with (plugin / "pyproject.toml").open("rb") as f:
        data: dict[str, Any] = tomllib.load(f)
    return data


def _package(plugin: Path) -> str:
    (path,) = _pyproject(plugin)["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    return Path(path).name


def _plugin_module_problems(module: Path) -> list[str]:
    """What ``module`` lacks of the registration style: ``AGENTHOST_PLUGIN_API`` and an
    ``@agenthost.hookimpl`` ``register_agents``."""
    tree = ast.parse(module.read_text(), str(module))
    assigned = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    hooks = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and node.name == "register_agents"
        and any(ast.unparse(d) == "agenthost.hookimpl" for d in node.decorator_list)
    ]
    problems = []
    if "AGENTHOST_PLUGIN_API" not in assigned:
        problems.append("no AGENTHOST_PLUGIN_API")
    if not hooks:
        problems.append("no @agenthost.hookimpl register_agents")
    return problems


@pytest.mark.parametrize("plugin", FIRST_PARTY, ids=[p.name for p in FIRST_PARTY])
def test_first_party_plugins_register_through_their_plugin_module(plugin: Path) -> None:
    package = _package(plugin)
    assert package == f"agent_{plugin.name}"
    entry_points = _pyproject(plugin)["project"]["entry-points"]["flyte.agents"]
    assert entry_points == {plugin.name: f"{package}.plugin"}
    assert _plugin_module_problems(plugin / "src" / package / "plugin.py") == []


def test_the_template_shows_the_same_style() -> None:
    template = REPO / "plugins" / "_template"
    assert _plugin_module_problems(template / "src" / "agent_example" / "plugin.py") == []
    assert '# example = "agent_example.plugin"' in (template / "pyproject.toml").read_text()


def _module_table() -> dict[str, set[str]]:
    """The template README's "which plugin has which" table: plugin -> modules."""
    text = (REPO / "plugins" / "_template" / "README.md").read_text()
    rows = re.findall(r"^\| `(_?[a-z_]+)` \| (.+) \|$", text, re.MULTILINE)
    return {name: set(re.findall(r"`([a-z_]+)`", cells)) for name, cells in rows}


def test_the_template_readme_lists_every_plugins_modules() -> None:
    table = _module_table()
    assert set(table) == {p.name for p in PLUGINS}
    for plugin in PLUGINS:
        package = plugin / "src" / _package(plugin)
        modules = {p.stem for p in package.glob("*.py")}
        assert table[plugin.name] == modules, plugin.name


def test_codeowners_names_every_plugin_folder() -> None:
    lines = (REPO / "CODEOWNERS").read_text().splitlines()
    owned = {line.split()[0] for line in lines if line.strip() and not line.startswith("#")}
    missing = [p.name for p in PLUGINS if f"/plugins/{p.name}/" not in owned]
    assert not missing, f"CODEOWNERS has no line for plugins {missing}"
    for line in lines:
        if line.strip() and not line.startswith("#"):
            assert len(line.split()) == 2, f"one owner per component: {line!r}"


def _nox_requirement(session: str, name: str) -> Requirement:
    """The requirement on ``name`` that ``session.install(...)`` in ``session`` names."""
    for node in ast.walk(nox_sessions()[session]):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "session.install":
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    requirement = Requirement(arg.value)
                    if requirement.name == name:
                        return requirement
    raise AssertionError(f"nox session {session} installs no {name}")


def test_pre_commit_runs_the_ruff_the_lint_session_accepts() -> None:
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
    repos = {repo["repo"].rsplit("/", 1)[-1]: repo for repo in config["repos"]}
    ruff = repos["ruff-pre-commit"]
    assert {hook["id"] for hook in ruff["hooks"]} == {"ruff-check", "ruff-format"}
    version = ruff["rev"].removeprefix("v")
    assert _nox_requirement("lint", "ruff").specifier.contains(version)
    (mypy,) = [hook for hook in repos["local"]["hooks"] if hook["id"] == "mypy"]
    assert mypy["entry"].endswith("nox -R -s types")
