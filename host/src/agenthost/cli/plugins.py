"""``agenthost plugins`` and ``agenthost check``: what was discovered, and whether it loads."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from agenthost.cli.options import AllowOption, BlockOption, ModulesOption, PluginSelection
from agenthost.loading.tables import plugins_table


def plugins_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the stable JSON shape.")] = False,
    allow: AllowOption = None,
    block: BlockOption = None,
    modules: ModulesOption = None,
) -> None:
    """List every discovered plugin, its status and its agents."""
    result = PluginSelection.from_options(allow, block, modules).load()
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    typer.echo(plugins_table(result))


def check_command(
    strict: Annotated[
        bool, typer.Option("--strict", help="Treat warnings as failures too.")
    ] = False,
    allow: AllowOption = None,
    block: BlockOption = None,
    modules: ModulesOption = None,
) -> None:
    """Load and validate every plugin; print problems one per line; exit 1 if any failed."""
    result = PluginSelection.from_options(allow, block, modules).load()
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
