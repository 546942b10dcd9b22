"""The layering of docs/architecture.md, checked on the source: the core never imports a
protocol adapter, the server, gRPC or a flyteidl service module, and uses from flyteidl's
agent messages only the values agents themselves take or return."""

from __future__ import annotations

import ast
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
