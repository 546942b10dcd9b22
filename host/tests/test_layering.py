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

FORBIDDEN: tuple[str, ...] = ("agenthost.protocols", "agenthost.server", "agenthost.cli")
FORBIDDEN += ("grpc", "flyteidl2", "flyteidl.service")

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
    found: list[tuple[str, list[str]]] = []
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


ARCHITECTURE = PACKAGE.parents[2] / "docs" / "architecture.md"


def layer_table() -> dict[str, tuple[list[str], set[str]]]:
    """docs/architecture.md's table of layers: each layer's paths and the layers it may import."""
    text = ARCHITECTURE.read_text()
    rows = text[text.index("| layer | where | imports only |") :].splitlines()[2:]
    table: dict[str, tuple[list[str], set[str]]] = {}
    for row in itertools.takewhile(lambda line: line.startswith("|"), rows):
        layer, where, allowed = (cell.strip() for cell in row.strip("|").split("|"))
        name = layer.split(" (")[0]
        paths = [p.strip("`") for p in where.split(", ")]
        table[name] = (paths, {a.strip() for a in allowed.split(",")})
    return table


def _layer_of(module: str, table: dict[str, tuple[list[str], set[str]]]) -> str | None:
    parts = module.split(".")[1:] or ["__init__"]
    for layer, (paths, _) in table.items():
        for path in paths:
            if path.endswith("/") and parts[0] == path[:-1]:
                return layer
            if path == f"{parts[0]}.py" and len(parts) == 1:
                return layer
    return None


def layer_problems(table: dict[str, tuple[list[str], set[str]]]) -> tuple[list[str], list[str]]:
    """Modules in no layer of ``table`` (other than re-export modules), and every import (at
    any level, function-local too) that ``table`` does not allow, or that goes through an old
    re-export path from inside the package."""
    short = {"protocol adapters": "protocols", "testing kit": "testing"}
    reexports: set[str] = set()
    unplaced = []
    for path in PACKAGE.rglob("*.py"):
        module = _module(path)
        if _layer_of(module, table) is None and module != "agenthost.__main__":
            docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
            if docstring.startswith("The old import path"):
                reexports.add(module)
            else:
                unplaced.append(module)
    broken = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module(path)
        layer = _layer_of(module, table)
        if layer is None:
            continue
        allowed = {short.get(a, a) for a in table[layer][1]} | {short.get(layer, layer)}
        for imported, _ in _imports(path):
            if imported in reexports:
                broken.append(f"{module} imports the old path {imported}")
                continue
            target = _layer_of(imported, table) if imported.startswith("agenthost") else None
            if target is not None and short.get(target, target) not in allowed:
                broken.append(f"{module} ({layer}) imports {imported} ({target})")
    return sorted(unplaced), broken


def test_the_layer_table_of_the_architecture_doc_holds_for_every_import() -> None:
    table = layer_table()
    assert set(table) == {
        "SDK", "core", "loading", "protocol adapters", "server", "runner", "CLI", "testing kit"
    }  # fmt: skip
    unplaced, broken = layer_problems(table)
    assert unplaced == [], f"modules in no layer of docs/architecture.md: {unplaced}"
    assert broken == []


def test_the_layer_check_catches_a_forbidden_import() -> None:
    table = layer_table()
    paths, allowed = table["loading"]
    table["loading"] = (paths, allowed - {"core"})
    _, broken = layer_problems(table)
    assert any(line.startswith("agenthost.loading.") and "(core)" in line for line in broken)
