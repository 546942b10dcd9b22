"""The operator and author docs stay in step with the commands: every option and environment
variable of ``serve``, ``health``, ``propeller-config`` and ``new`` is documented, and every
relative link in the docs resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agenthost.cli import load_command

HOST_DIR = Path(__file__).resolve().parents[1]
DOCS = HOST_DIR.parent / "docs"
DOCUMENTED_IN = {
    "serve": "operations.md",
    "health": "operations.md",
    "propeller-config": "operations.md",
    "new": "authoring.md",
}


def _params(command: str) -> list[tuple[list[str], str | None]]:
    params = load_command(command).params
    assert params, f"{command} has no options"
    return [(p.opts, p.envvar) for p in params if p.opts[0].startswith("--")]


@pytest.mark.parametrize("command", sorted(DOCUMENTED_IN))
def test_every_option_and_env_var_is_documented(command: str) -> None:
    text = (DOCS / DOCUMENTED_IN[command]).read_text()
    missing = []
    for opts, envvar in _params(command):
        if not any(f"`{opt}" in text for opt in opts):
            missing.append(opts[0])
        if envvar and f"`{envvar}`" not in text:
            missing.append(str(envvar))
    assert not missing, f"{DOCUMENTED_IN[command]} does not mention {missing}"


@pytest.mark.parametrize(
    "name", ["authoring.md", "operations.md", "architecture.md", "migrating.md"]
)
def test_relative_links_resolve(name: str) -> None:
    text = (DOCS / name).read_text()
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    relative = [t for t in targets if not re.match(r"^[a-z]+://", t)]
    assert relative, "expected links to the other docs"
    broken = [t for t in relative if not (DOCS / t).resolve().exists()]
    assert not broken, broken


def test_plugin_template_readme_links_resolve() -> None:
    readme = HOST_DIR.parent / "plugins" / "_template" / "README.md"
    targets = re.findall(r"\]\(([^)#\s]+)\)", readme.read_text())
    assert all((readme.parent / t).resolve().exists() for t in targets), targets


def test_docs_have_one_title_each() -> None:
    for name in ("authoring.md", "operations.md", "architecture.md", "migrating.md"):
        lines = (DOCS / name).read_text().splitlines()
        assert lines[0].startswith("# ")
        assert sum(1 for line in lines if line.startswith("# ")) == 1, name


def test_architecture_names_every_host_module() -> None:
    text = (DOCS / "architecture.md").read_text()
    package = HOST_DIR / "src" / "agenthost"
    modules = [p.name for p in package.glob("*.py") if p.name not in ("__main__.py",)]
    modules += [f"{p.name}/" for p in package.iterdir() if p.is_dir() and p.name[0] not in "_."]
    unnamed = [m for m in modules if f"`{m}" not in text]
    assert not unnamed, unnamed


def _section(text: str, title: str) -> str:
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_architecture_walkthrough_and_layers_name_real_files_and_functions() -> None:
    """Every path in "Where things are" and "The layers" exists, and every ``file:name``
    names a function or class defined in that file."""
    text = (DOCS / "architecture.md").read_text()
    package = HOST_DIR / "src" / "agenthost"
    named = re.findall(
        r"`([\w./]+(?:\.py|/))(?::([\w.]+))?`",
        _section(text, "Where things are") + _section(text, "The layers"),
    )
    assert len(named) > 30
    missing = []
    for path, attribute in named:
        root = HOST_DIR.parent if path.startswith(("plugins/", "host/")) else package
        file = root / path
        if not file.exists():
            missing.append(path)
        elif attribute:
            name = attribute.split(".")[-1]
            if not re.search(rf"^\s*(async def|def|class) {name}\b", file.read_text(), re.M):
                missing.append(f"{path}:{attribute}")
    assert not missing, missing
