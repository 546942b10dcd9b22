"""``agenthost new NAME``: scaffold a plugin distribution with a working example agent."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from agenthost.scaffold import ProjectSpec, ScaffoldError, write_project


def new(
    name: Annotated[
        str,
        typer.Argument(
            help="Plugin name, e.g. acme-jobs: distribution agent-acme-jobs, package "
            "agent_acme_jobs.",
            show_default=False,
        ),
    ],
    kind: Annotated[
        str, typer.Option(help="Example agent to start from: async, sync or sensor.")
    ] = "async",
    directory: Annotated[
        Optional[Path],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option(
            "--dir",
            help="Directory to create (must not exist, or be empty). Default: ./<distribution>.",
        ),
    ] = None,
    task_type: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Flyte task type the agent serves. Default: NAME with underscores."),
    ] = None,
) -> None:
    """Scaffold a plugin distribution: pyproject, example agent, tests, README, CHANGELOG."""
    try:
        spec = ProjectSpec.create(name, kind, task_type=task_type)
        destination = directory if directory is not None else Path(spec.dist)
        written = write_project(spec, destination)
    except ScaffoldError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except OSError as exc:
        typer.echo(f"error: cannot write the project: {exc.strerror} ({exc.filename})", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"created {spec.dist} ({spec.kind} agent {spec.class_name} for task type "
        f"{spec.task_type!r}) in {destination} with {len(written)} files"
    )
    typer.echo("next:")
    typer.echo(f"  cd {destination}")
    typer.echo("  pip install -e '.[test]'")
    typer.echo("  pytest && agenthost check")
    typer.echo(f"  {spec.run_example}")
