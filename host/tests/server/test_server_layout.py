"""The server's modules import each other in one direction: no cycle, even through imports
inside functions, and the ``--workers`` supervisor never imports the server it supervises."""

from __future__ import annotations

import ast
from pathlib import Path

import agenthost

PACKAGE = Path(agenthost.__file__).parent


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    """Every agenthost module and the agenthost modules it imports anywhere in its body
    (``TYPE_CHECKING`` blocks excepted: they never run)."""
    modules = {_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        checking = {
            id(node)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
            for stmt in block.body
            for node in ast.walk(stmt)
        }
        found: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in checking:
                continue
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                found |= {f"{node.module}.{alias.name}" for alias in node.names}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo += graph[module]
    return seen


def test_no_server_module_imports_itself_back() -> None:
    graph = _graph()
    server = sorted(m for m in graph if m.startswith("agenthost.server."))
    assert {"agenthost.server.app", "agenthost.server.supervisor"} <= set(server)
    cycles = [m for m in server if m in _reachable(graph, m)]
    assert cycles == []


def test_the_supervisor_needs_only_configuration_process_and_ports() -> None:
    needed = _reachable(_graph(), "agenthost.server.supervisor")
    assert "agenthost.server.app" not in needed
    assert {"agenthost.server.config", "agenthost.server.process"} <= needed


def test_the_check_sees_imports_inside_functions() -> None:
    graph = _graph()
    assert "agenthost.server.watchdog" in graph["agenthost.server.app"]
    assert "agenthost.server.metrics_shared" in graph["agenthost.server.supervisor"]
