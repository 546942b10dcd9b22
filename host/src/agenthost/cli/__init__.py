"""The ``agenthost`` command line: ``plugins``, ``check`` and ``serve``."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from agenthost.version import __version__

app = typer.Typer(
    name="agenthost",
    help="Serve Flyte agents over gRPC, discovered through the flyte.agents entry-point group.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

AllowOption = Annotated[
    Optional[list[str]],  # noqa: UP045 - typer needs Optional on Python 3.10
    typer.Option(
        "--allow",
        envvar="AGENTHOST_ALLOW",
        help="Only load these plugins (distribution or entry-point names, comma-separated).",
    ),
]
BlockOption = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option(
        "--block",
        envvar="AGENTHOST_BLOCK",
        help="Never load these plugins (distribution or entry-point names).",
    ),
]
ModulesOption = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option(
        "--modules",
        envvar="AGENTHOST_MODULES",
        help="Extra modules to import as plugins (like `pyflyte serve --modules`).",
    ),
]


def split_names(values: list[str] | None) -> list[str]:
    """Flatten repeated and comma- or space-separated option values."""
    return [n for v in values or () for n in v.replace(",", " ").split() if n]


def _load(allow: list[str] | None, block: list[str] | None, modules: list[str] | None) -> object:
    from agenthost.plugins import load_plugins

    return load_plugins(
        allow=split_names(allow) if allow else None,
        block=split_names(block),
        modules=split_names(modules),
    )


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"agenthost {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Show version."),
    ] = False,
) -> None:
    """Serve Flyte agents over gRPC."""


@app.command("plugins")
def plugins_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the stable JSON shape.")] = False,
    allow: AllowOption = None,
    block: BlockOption = None,
    modules: ModulesOption = None,
) -> None:
    """List every discovered plugin, its status and its agents."""
    from agenthost.plugins import LoadResult

    result = _load(allow, block, modules)
    assert isinstance(result, LoadResult)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    from agenthost.reporting import plugins_table

    typer.echo(plugins_table(result))


@app.command("check")
def check_command(
    strict: Annotated[
        bool, typer.Option("--strict", help="Treat warnings as failures too.")
    ] = False,
    allow: AllowOption = None,
    block: BlockOption = None,
    modules: ModulesOption = None,
) -> None:
    """Load and validate every plugin; print problems one per line; exit 1 if any failed."""
    from agenthost.plugins import LoadResult

    result = _load(allow, block, modules)
    assert isinstance(result, LoadResult)
    bad = 0
    for report in result.plugins:
        for problem in report.problems if report.status == "failed" else ():
            typer.echo(f"FAIL {report.label}: {problem}")
            bad += 1
        for warning in report.warnings:
            typer.echo(f"WARN {report.label}: {warning}")
            bad += strict
    loaded = [p for p in result.plugins if p.status == "loaded"]
    agents = sum(len(p.agents) for p in loaded)
    typer.echo(
        f"{len(loaded)} plugin(s) loaded with {agents} agent(s), {len(result.failed)} failed"
    )
    if bad:
        raise typer.Exit(1)


COMMANDS: dict[str, str] = {
    "serve": "agenthost.cli_serve:serve",
    "run": "agenthost.cli_run:run",
    "new": "agenthost.cli_new:new",
    "propeller-config": "agenthost.cli_propeller:propeller_config",
    "health": "agenthost.cli_health:health",
}
"""Commands that live in modules of their own: ``name -> "module:function"``."""


def _register_commands() -> None:
    import importlib
    import importlib.util

    for name, target in COMMANDS.items():
        module_name, function = target.split(":")
        if importlib.util.find_spec(module_name) is None:
            continue
        app.command(name)(getattr(importlib.import_module(module_name), function))


_register_commands()


def main() -> None:
    """Console-script entry point."""
    app()
