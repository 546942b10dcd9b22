"""The layering of docs/architecture.md, checked on the source: the core never imports a
protocol adapter, the server, gRPC or a flyteidl service module, and uses from flyteidl's
agent messages only the values agents themselves take or return."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "src" / "agenthost"

EDGE = ("protocols", "server", "scaffold", "cli", "run", "testing", "__main__")
"""Modules outside the core: the adapters, the server around them and the tools (CLI, the
in-process and remote runner, the testing kit), which drive the core from outside."""

FORBIDDEN = ("agenthost.protocols", "agenthost.server", "agenthost.cli", "grpc", "flyteidl2")
FORBIDDEN += ("flyteidl.service",)

AGENT_VALUES = {
    "AgentError",
    "GetTaskLogsResponse",
    "GetTaskMetricsResponse",
    "Resource",
    "TaskExecutionMetadata",
}
"""The names of ``flyteidl.admin.agent_pb2`` that agents receive or return (the agent API), so
the core may name them; every request and RPC envelope stays in the adapters."""


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def core_modules() -> list[Path]:
    """Every module of the core."""
    return sorted(
        p for p in PACKAGE.rglob("*.py") if not p.relative_to(PACKAGE).parts[0].startswith(EDGE)
    )


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def violations(path: Path) -> list[str]:
    """What ``path`` imports that the core must not."""
    bad = []
    for module, names in _imports(path):
        if module.startswith(FORBIDDEN):
            bad.append(module)
        elif module == "flyteidl.admin" and "agent_pb2" in names:
            bad.append("flyteidl.admin.agent_pb2 (the whole module)")
        elif module == "flyteidl.admin.agent_pb2":
            bad += [f"{module}.{n}" for n in names if n not in AGENT_VALUES]
        elif module.startswith("flyteidl.admin") and module != "flyteidl.admin.agent_pb2":
            bad.append(module)
    return bad


def test_core_is_known_and_contains_the_dispatcher() -> None:
    names = {_module(p) for p in core_modules()}
    assert {"agenthost.dispatch", "agenthost.agent", "agenthost.resource"} <= names
    assert not any(n.startswith(("agenthost.protocols", "agenthost.server")) for n in names)


def test_core_never_imports_an_adapter_grpc_or_service_messages() -> None:
    found = {_module(p): violations(p) for p in core_modules()}
    assert {m: v for m, v in found.items() if v} == {}


def test_the_check_catches_what_it_forbids(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import grpc\n"
        "from agenthost.protocols.v1 import services\n"
        "from flyteidl.admin import agent_pb2\n"
        "from flyteidl.admin.agent_pb2 import CreateTaskRequest, Resource\n"
    )
    assert violations(sample) == [
        "grpc",
        "agenthost.protocols.v1",
        "flyteidl.admin.agent_pb2 (the whole module)",
        "flyteidl.admin.agent_pb2.CreateTaskRequest",
    ]


def test_adapters_do_not_import_each_other() -> None:
    protocols = PACKAGE / "protocols"
    for version in ("v1", "v2"):
        for path in (protocols / version).rglob("*.py") if (protocols / version).is_dir() else ():
            others = [
                m
                for m, _ in _imports(path)
                if m.startswith("agenthost.protocols.v")
                and not m.startswith(f"agenthost.protocols.{version}")
            ]
            assert others == [], (path.name, others)


SDK = (
    "agenthost",
    "agenthost.agent",
    "agenthost.resource",
    "agenthost.sensor",
    "agenthost.errors",
    "agenthost.phases",
    "agenthost.template",
    "agenthost.secrets",
    "agenthost.connection",
    "agenthost.hookspecs",
    "agenthost.version",
    "agenthost.literals",
    "agenthost.http_sessions",
    "agenthost.registry",
    "agenthost.settings",
    "agenthost.signatures",
    "agenthost.threads",
)
"""The SDK: what plugin authors import (and the helpers it is built from)."""

ABOVE_SDK = ("core", "loading", "protocols", "server", "cli", "run", "runner", "testing")
ABOVE_SDK += ("dispatch", "plugins", "validation", "reporting", "scaffold", "__main__")
LAYER_RULES = {
    "sdk": ABOVE_SDK,
    "core": ("protocols", "server", "cli", "loading", "run", "runner", "testing"),
    "loading": ("server", "cli", "protocols", "run", "runner", "testing"),
}
"""Each layer and the top-level ``agenthost`` modules or packages it never imports."""


def _layer(module: str) -> str | None:
    if module == "agenthost" or module.startswith(tuple(f"{m}." for m in SDK[1:])):
        return "sdk"
    if module in SDK:
        return "sdk"
    part = module.split(".")[1] if module.count(".") else ""
    return part if part in ("core", "loading") else None


def _top_level_imports(path: Path, package: str | None = None) -> set[str]:
    """The ``agenthost`` modules ``path`` imports at module level (outside functions and
    ``if TYPE_CHECKING:`` blocks), relative imports resolved against ``package`` (by default
    the package ``path`` is in)."""
    tree = ast.parse(path.read_text(), str(path))
    if package is None:
        module = _module(path)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names)
            elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
                visit(node.body + node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body + [s for h in node.handlers for s in h.body] + node.orelse)

    visit(tree.body)
    return {m for m in found if m == "agenthost" or m.startswith("agenthost.")}


def test_layers_import_only_downwards() -> None:
    bad = {}
    for path in PACKAGE.rglob("*.py"):
        module = _module(path)
        layer = _layer(module)
        if layer is None:
            continue
        forbidden = tuple(f"agenthost.{m}" for m in LAYER_RULES[layer])
        every = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):  # function-level too
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                every.add(node.module)
                every.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                every.update(a.name for a in node.names)
        found = sorted(m for m in every if m == forbidden or m.startswith(forbidden))
        found = [m for m in found if any(m == f or m.startswith(f + ".") for f in forbidden)]
        if found:
            bad[module] = found
    assert bad == {}


def test_the_layers_are_known() -> None:
    layers = {_module(p): _layer(_module(p)) for p in PACKAGE.rglob("*.py")}
    assert layers["agenthost.agent"] == layers["agenthost.literals.encode"] == "sdk"
    assert layers["agenthost.core.dispatcher"] == "core"
    assert layers["agenthost.loading.loader"] == "loading"
    assert all(layers[m] == "sdk" for m in SDK)


def test_no_import_cycles_between_modules() -> None:
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph = {
        name: {m for m in _top_level_imports(path) if m in modules and m != name}
        for name, path in modules.items()
    }
    cycles = []
    state: dict[str, int] = {}

    def walk(name: str, stack: list[str]) -> None:
        state[name] = 1
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                # A package importing its own submodules (its public front) is no cycle.
                cycle = [*stack[stack.index(other) :], other]
                if not all(
                    b.startswith(a + ".") or a.startswith(b + ".")
                    for a, b in itertools.pairwise(cycle)
                ):
                    cycles.append(" -> ".join(cycle))
            elif other not in state:
                walk(other, [*stack, other])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            walk(name, [name])
    assert cycles == []


def test_the_cycle_check_sees_module_level_imports_only(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "import agenthost.agent\n"
        "from agenthost.core import calls\n"
        "if TYPE_CHECKING:\n    import agenthost.server\n"
        "def f():\n    import agenthost.cli\n"
    )
    found = _top_level_imports(sample, "agenthost")
    assert "agenthost.agent" in found and "agenthost.core.calls" in found
    assert not any(m.startswith(("agenthost.server", "agenthost.cli")) for m in found)
