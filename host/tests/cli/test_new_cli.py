"""``agenthost new``: every kind renders a project whose own tests pass once it is installed
(one shared virtualenv for the three kinds, built with uv when available), which
``agenthost plugins`` lists and ``agenthost check`` finds healthy."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_kit import HOST_DIR

from agenthost.scaffold import ProjectSpec, host_requirement, plugin_api_range, project_files
from agenthost.testing import run_cli

KINDS = ("async", "sync", "sensor")
REPO = HOST_DIR.parent
TEMPLATE_DIR = REPO / "plugins" / "_template"
WORKFLOW = ".github/workflows/ci.yml"
UNRENDERED = re.compile(r"\{\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}\}")
"""A template variable left in a rendered file (GitHub's ``${{ matrix.x }}`` is not one)."""


def _workflow_steps(project: Path) -> dict[str, dict[str, Any]]:
    """The rendered CI workflow's steps of its one job, by name (``uses`` for unnamed ones)."""
    workflow = yaml.safe_load((project / WORKFLOW).read_text())
    (job,) = workflow["jobs"].values()
    return {step.get("name", step.get("uses")): step for step in job["steps"]}


def _tools_the_workflow_installs(project: Path) -> list[str]:
    """The requirements of the workflow's install step besides the project itself."""
    words = shlex.split(_workflow_steps(project)["Install"]["run"])
    assert words[:4] == ["python", "-m", "pip", "install"], words
    assert words[4:6] == ["-e", ".[test]"], words
    return words[6:]


def _uv() -> str | None:
    found = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if found:
        return found
    try:
        import uv  # type: ignore[import-not-found]
    except ImportError:
        return None
    return str(uv.find_uv_bin())


def _clean_env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "")])
    return env


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One fresh project per kind, made by the CLI."""
    root = tmp_path_factory.mktemp("new")
    made = {}
    for kind in KINDS:
        target = root / f"agent-people-{kind}"
        done = run_cli("new", f"people-{kind}", "--kind", kind, "--dir", str(target))
        assert done.returncode == 0, done.stderr
        assert f"created agent-people-{kind} ({kind} agent" in done.stdout
        made[kind] = target
    return made


@pytest.fixture(scope="module")
def venv(projects: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One virtualenv with the host (editable) and the three projects installed as a user
    would: ``pip install -e '.[test]'``."""
    path = tmp_path_factory.mktemp("venv") / "venv"
    editables = ["-e", str(HOST_DIR), *_tools_the_workflow_installs(projects["async"])]
    for project in projects.values():
        editables += ["-e", f"{project}[test]"]
    uv = _uv()
    if uv is not None:
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(path)], check=True)
        install = [uv, "pip", "install", "-q", "--python", str(path / "bin" / "python")]
    else:
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        install = [str(path / "bin" / "python"), "-m", "pip", "install", "-q"]
    done = subprocess.run(
        [*install, *editables], capture_output=True, text=True, timeout=600, env=_clean_env(path)
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return path


@pytest.mark.parametrize("kind", KINDS)
def test_generated_project_tests_pass(kind: str, projects: dict[str, Path], venv: Path) -> None:
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=projects[kind],
        capture_output=True,
        text=True,
        timeout=300,
        env=_clean_env(venv),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "3 passed" in done.stdout
    assert "test_served_by_agenthost" not in done.stdout  # nothing skipped or failed by name


def test_installed_projects_are_listed_and_healthy(venv: Path) -> None:
    listed = subprocess.run(
        [str(venv / "bin" / "agenthost"), "plugins", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=_clean_env(venv),
    )
    assert listed.returncode == 0, listed.stderr
    plugins = {p["distribution"]: p for p in json.loads(listed.stdout)["plugins"]}
    for kind in KINDS:
        report = plugins[f"agent-people-{kind}"]
        assert report["status"] == "loaded"
        assert report["warnings"] == []
        assert report["entry_point"] == f"agent_people_{kind}.plugin"
        (agent,) = report["agents"]
        assert agent["kind"] == kind
        assert agent["task_types"] == [{"name": f"people_{kind}", "version": 0}]
    checked = subprocess.run(
        [str(venv / "bin" / "agenthost"), "check", "--strict"],
        capture_output=True,
        text=True,
        timeout=120,
        env=_clean_env(venv),
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "3 plugin(s) loaded with 3 agent(s), 0 failed" in checked.stdout
    assert "WARN" not in checked.stdout


def test_generated_layout_and_metadata(projects: dict[str, Path]) -> None:
    project = projects["sync"]
    files = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file())
    assert files == [
        WORKFLOW,
        ".gitignore",
        "CHANGELOG.md",
        "README.md",
        "pyproject.toml",
        "src/agent_people_sync/__init__.py",
        "src/agent_people_sync/agent.py",
        "src/agent_people_sync/plugin.py",
        "src/agent_people_sync/py.typed",
        "src/agent_people_sync/version.py",
        "tests/conftest.py",
        "tests/test_agent.py",
    ]
    pyproject = (project / "pyproject.toml").read_text()
    assert f'"{host_requirement()}"' in pyproject
    assert (
        '[project.entry-points."flyte.agents"]\npeople_sync = "agent_people_sync.plugin"'
        in pyproject
    )
    assert 'path = "src/agent_people_sync/version.py"' in pyproject
    plugin = (project / "src/agent_people_sync/plugin.py").read_text()
    assert f'AGENTHOST_PLUGIN_API = "{plugin_api_range()}"' in plugin
    changelog = (project / "CHANGELOG.md").read_text()
    assert re.search(r"^## \[0\.1\.0\] - \d{4}-\d{2}-\d{2}$", changelog, re.MULTILINE)
    assert '__version__ = "0.1.0"' in (project / "src/agent_people_sync/version.py").read_text()
    assert not UNRENDERED.search("".join(p.read_text() for p in project.rglob("*") if p.is_file()))


@pytest.mark.parametrize(("kind", "phrase"), [("async", "an async"), ("sync", "a sync")])
def test_readme_uses_the_right_article_and_names_both_tag_forms(
    kind: str, phrase: str, projects: dict[str, Path]
) -> None:
    readme = (projects[kind] / "README.md").read_text()
    assert f"plugin: {phrase} agent for Flyte tasks" in readme
    assert "`v<version>`" in readme
    assert f"`agent-people-{kind}-v0.2.0`" in readme
    assert WORKFLOW in readme


def test_workflow_lints_type_checks_and_tests_on_every_supported_python(
    projects: dict[str, Path],
) -> None:
    workflow = yaml.safe_load((projects["async"] / WORKFLOW).read_text())
    # PyYAML reads the bare key ``on`` as True (YAML 1.1); GitHub reads it as "on".
    assert set(workflow[True]) == {"push", "pull_request"}
    assert workflow["permissions"] == {"contents": "read"}
    (job,) = workflow["jobs"].values()
    versions = job["strategy"]["matrix"]["python-version"]
    pyproject = (projects["async"] / "pyproject.toml").read_text()
    assert 'requires-python = ">=3.10"' in pyproject and versions[0] == "3.10"
    steps = _workflow_steps(projects["async"])
    assert list(steps) == [
        "actions/checkout@v4",
        "actions/setup-python@v5",
        "Install",
        "Lint",
        "Type-check",
        "Test",
    ]
    assert steps["actions/setup-python@v5"]["with"]["python-version"] == (
        "${{ matrix.python-version }}"
    )
    assert steps["Lint"]["run"].split("\n")[:2] == ["ruff check .", "ruff format --check ."]
    assert steps["Type-check"]["run"] == "mypy src"
    assert steps["Test"]["run"] == "pytest"  # test_generated_project_tests_pass runs it


@pytest.mark.parametrize("kind", KINDS)
def test_the_workflows_lint_and_type_check_pass(
    kind: str, projects: dict[str, Path], venv: Path
) -> None:
    steps = _workflow_steps(projects[kind])
    for name in ("Lint", "Type-check"):
        for command in filter(None, steps[name]["run"].splitlines()):
            done = subprocess.run(
                shlex.split(command),
                cwd=projects[kind],
                capture_output=True,
                text=True,
                timeout=300,
                env=_clean_env(venv),
            )
            assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}{done.stderr[-1000:]}"


def test_host_requirement_is_the_current_series() -> None:
    assert host_requirement("0.1.0") == "agenthost>=0.1,<0.2"
    assert host_requirement("0.3.7") == "agenthost>=0.3,<0.4"
    assert host_requirement("1.4.2") == "agenthost>=1.4,<2"
    assert plugin_api_range("1.0") == ">=1.0,<2"


def test_names_are_derived_once() -> None:
    spec = ProjectSpec.create("Agent-Acme-Jobs", "sensor")
    assert (spec.dist, spec.package, spec.entry_point, spec.task_type, spec.class_name) == (
        "agent-acme-jobs",
        "agent_acme_jobs",
        "acme_jobs",
        "acme_jobs",
        "AcmeJobsSensor",
    )
    assert ProjectSpec.create("snow_sensor", "sensor").class_name == "SnowSensor"
    assert ProjectSpec.create("x", "sync", task_type="custom_type").task_type == "custom_type"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("1bad",), "must be letters, digits"),
        (("a--b",), "must be letters, digits"),
        (("good", "--kind", "batch"), "kind must be one of async, sync, sensor"),
    ],
)
def test_bad_requests_exit_2(args: tuple[str, ...], message: str, tmp_path: Path) -> None:
    done = run_cli("new", *args, "--dir", str(tmp_path / "p"))
    assert done.returncode == 2
    assert message in done.stderr
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("task_type", ['a"b', "it's", "x\\ty", "two words", ""])
def test_a_task_type_that_cannot_be_written_into_the_project_exits_2(
    task_type: str, tmp_path: Path
) -> None:
    # A quote or backslash went into agent.py and pyproject.toml as is: a project that did
    # not parse (or a TASK_TYPE holding a tab for "x\ty").
    done = run_cli("new", "acme", "--task-type", task_type, "--dir", str(tmp_path / "p"))
    assert done.returncode == 2, done.stdout
    assert f"task type {task_type!r} must be letters, digits, _ - or ." in done.stderr
    assert not (tmp_path / "p").exists()


def test_a_task_type_with_dots_and_dashes_renders_a_valid_project(tmp_path: Path) -> None:
    import ast

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    done = run_cli("new", "acme", "--task-type", "acme.jobs-v2", "--dir", str(tmp_path / "p"))
    assert done.returncode == 0, done.stderr
    tree = ast.parse((tmp_path / "p" / "src" / "agent_acme" / "agent.py").read_text())
    constants = [n for n in ast.walk(tree) if isinstance(n, ast.Constant)]
    assert "acme.jobs-v2" in [c.value for c in constants]
    tomllib.loads((tmp_path / "p" / "pyproject.toml").read_text())


def test_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    done = run_cli("new", "acme", "--dir", str(tmp_path))
    assert done.returncode == 2
    assert "already exists" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_default_directory_is_the_distribution_name(tmp_path: Path) -> None:
    done = run_cli("new", "acme", "--kind", "sync", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "agent-acme" / "src" / "agent_acme" / "agent.py").is_file()


def test_first_party_template_is_the_rendered_layout() -> None:
    rendered = project_files(ProjectSpec.create("example", "async"))
    for relative, content in rendered.items():
        if relative.startswith(("src/", "tests/")):
            assert (TEMPLATE_DIR / relative).read_text() == content, relative
    for name in ("README.md", "CHANGELOG.md", "pyproject.toml"):
        assert (TEMPLATE_DIR / name).is_file()
    pyproject = (TEMPLATE_DIR / "pyproject.toml").read_text()
    # Never an active entry point: an accidental install must not register agents.
    assert not re.search(r'^\[project\.entry-points\."flyte\.agents"\]', pyproject, re.MULTILINE)
    assert '# example = "agent_example.plugin"' in pyproject


def test_the_wheel_ships_every_template(tmp_path: Path) -> None:
    uv = _uv()
    if uv is None:
        pytest.skip("uv builds the wheel")
    done = subprocess.run(
        [uv, "build", "-q", "--wheel", str(HOST_DIR), "-o", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("agenthost-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {n for n in archive.namelist() if n.startswith("agenthost/scaffold/")}
    scaffold = HOST_DIR / "src" / "agenthost" / "scaffold"
    templates = {
        f"agenthost/scaffold/{p.relative_to(scaffold).as_posix()}" for p in scaffold.rglob("*.tmpl")
    }
    assert len(templates) == 16
    assert templates <= shipped
