"""The project templates ``agenthost new`` renders, and the renderer.

Templates are package data: ``common/`` holds the files every plugin distribution has,
``async/``, ``sync/`` and ``sensor/`` the example agent and its tests for each kind. A
template file ends in ``.tmpl`` (dropped when rendered); ``__package__`` in a path becomes the
import package and a leading ``dot-`` in a file or folder name becomes ``.``
(``dot-github/workflows/ci.yml``); ``{{ name }}`` in a file
is replaced by the value of ``name`` (an unknown name is an error, so a typo cannot ship).
"""

from __future__ import annotations

import datetime
import keyword
import re
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.version import Version

from agenthost.version import PLUGIN_API_VERSION, __version__

if TYPE_CHECKING:
    from importlib.abc import Traversable

KINDS = ("async", "sync", "sensor")
"""The kinds of example agent ``agenthost new`` can scaffold."""

TEMPLATE_SUFFIX = ".tmpl"
PACKAGE_PLACEHOLDER = "__package__"
DOT_PREFIX = "dot-"
"""A template file or folder named ``dot-x`` renders to ``.x`` (hidden files stay visible to
packaging)."""
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
_TASK_TYPE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


_RUN_EXAMPLES = {
    "async": "agenthost run {task_type} --input name=Flyte --custom '{{\"duration_seconds\": 3}}'",
    "sync": "agenthost run {task_type} --input name=Flyte",
    "sensor": "agenthost run {task_type} --input path=/tmp/ready   # then: touch /tmp/ready",
}


class ScaffoldError(ValueError):
    """The project cannot be scaffolded as asked (bad name, kind or destination)."""


def host_requirement(version: str = __version__) -> str:
    """The bounded ``agenthost`` requirement for plugins built against host ``version``:
    the current minor series before 1.0 (``>=0.1,<0.2``), the current major after."""
    v = Version(version)
    if v.major == 0:
        return f"agenthost>=0.{v.minor},<0.{v.minor + 1}"
    return f"agenthost>={v.major}.{v.minor},<{v.major + 1}"


def plugin_api_range(api: str = PLUGIN_API_VERSION) -> str:
    """The ``AGENTHOST_PLUGIN_API`` range a new plugin declares: this API major version."""
    v = Version(api)
    return f">={v.major}.{v.minor},<{v.major + 1}"


@dataclass(frozen=True)
class ProjectSpec:
    """Every name a rendered project uses, derived from the user's NAME."""

    name: str
    kind: str
    article: str
    dist: str
    package: str
    entry_point: str
    task_type: str
    class_name: str
    host_requirement: str
    plugin_api: str
    host_version: str
    date: str
    run_example: str

    @classmethod
    def create(
        cls,
        name: str,
        kind: str = "async",
        *,
        task_type: str | None = None,
        today: datetime.date | None = None,
    ) -> ProjectSpec:
        """Derive the names: ``acme-jobs`` gives distribution ``agent-acme-jobs``, package
        ``agent_acme_jobs``, entry point and task type ``acme_jobs``, class ``AcmeJobsAgent``
        (``AcmeJobsSensor`` for sensors). A leading ``agent-`` in NAME is not doubled."""
        if kind not in KINDS:
            raise ScaffoldError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        slug = name.strip().lower()
        for prefix in ("agent-", "agent_"):
            if slug.startswith(prefix):
                slug = slug[len(prefix) :]
        if not _NAME.match(slug):
            raise ScaffoldError(
                f"name {name!r} must be letters, digits and single - or _ between them, "
                "starting with a letter (e.g. acme-jobs)"
            )
        parts = re.split(r"[-_]", slug)
        underscored = "_".join(parts)
        task = task_type if task_type is not None else underscored
        if not _TASK_TYPE.match(task):
            # It is written into Python strings, TOML and a shell command line as is.
            raise ScaffoldError(
                f"task type {task!r} must be letters, digits, _ - or . (e.g. acme_jobs)"
            )
        package = f"agent_{underscored}"
        if keyword.iskeyword(package) or not package.isidentifier():
            raise ScaffoldError(f"{package!r} is not a usable Python package name")
        suffix = "Sensor" if kind == "sensor" else "Agent"
        if parts[-1].capitalize() == suffix:
            suffix = ""
        return cls(
            name=slug,
            kind=kind,
            article="an" if kind[0] in "aeiou" else "a",
            dist=f"agent-{'-'.join(parts)}",
            package=package,
            entry_point=underscored,
            task_type=task,
            class_name="".join(p.capitalize() for p in parts) + suffix,
            host_requirement=host_requirement(),
            plugin_api=plugin_api_range(),
            host_version=__version__,
            date=(today or datetime.date.today()).isoformat(),
            run_example=_RUN_EXAMPLES[kind].format(task_type=task),
        )

    def context(self) -> dict[str, str]:
        """The template variables."""
        return {k: str(v) for k, v in asdict(self).items()}


def render(text: str, context: dict[str, str], source: str = "template") -> str:
    """Replace every ``{{ name }}`` in ``text``; ``ScaffoldError`` for unknown names."""

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in context:
            raise ScaffoldError(f"{source}: unknown template variable {key!r}")
        return context[key]

    return _VARIABLE.sub(value, text)


def _walk(root: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    found: list[tuple[str, Traversable]] = []
    for child in sorted(root.iterdir(), key=lambda t: t.name):
        if child.name == "__pycache__":
            continue
        path = f"{prefix}{child.name}"
        if child.is_dir():
            found += _walk(child, path + "/")
        elif child.name.endswith(TEMPLATE_SUFFIX):
            found.append((path, child))
    return found


def _undotted(name: str) -> str:
    return "." + name[len(DOT_PREFIX) :] if name.startswith(DOT_PREFIX) else name


def project_files(spec: ProjectSpec) -> dict[str, str]:
    """``{relative path: content}`` of the rendered project."""
    root = resources.files(__name__)
    context = spec.context()
    files: dict[str, str] = {}
    for layer in ("common", spec.kind):
        for relative, source in _walk(root / layer):
            target = relative[: -len(TEMPLATE_SUFFIX)].replace(PACKAGE_PLACEHOLDER, spec.package)
            target = "/".join(_undotted(part) for part in target.split("/"))
            files[target] = render(source.read_text(encoding="utf-8"), context, relative)
    return files


def write_project(spec: ProjectSpec, destination: Path) -> list[Path]:
    """Write the project into ``destination`` (which must not exist or be empty)."""
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise ScaffoldError(f"{destination} already exists and is not an empty directory")
    files = project_files(spec)
    written = []
    for relative, content in sorted(files.items()):
        path = destination / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written
