"""The ``agenthost`` command line: a typer app whose commands are imported only when they run.

Each command lives in a module of this package (``serve``, ``run``, ``health``...), named with
its one-line summary in ``COMMANDS``. The group lists them from that table, so ``agenthost
--help`` imports none of them; ``agenthost serve`` imports ``agenthost.cli.serve`` and nothing
of the other commands (click's lazy group, ``examples/complex``). ``options`` holds the
option declarations several commands share (re-exported here, where they used to live).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Annotated, Any

import typer
import typer.core
import typer.main

from agenthost.cli.options import AllowOption as AllowOption
from agenthost.cli.options import BlockOption as BlockOption
from agenthost.cli.options import ModulesOption as ModulesOption
from agenthost.cli.options import split_names as split_names
from agenthost.version import __version__


@dataclass(frozen=True)
class CommandSpec:
    """Where a command lives (``agenthost.cli.<module>:<function>``) and its one-line help,
    which the group shows without importing the module (a test keeps it equal to the first
    line of the function's docstring)."""

    module: str
    function: str
    summary: str


COMMANDS: dict[str, CommandSpec] = {
    "plugins": CommandSpec(
        "plugins", "plugins_command", "List every discovered plugin, its status and its agents."
    ),
    "check": CommandSpec(
        "plugins",
        "check_command",
        "Load and validate every plugin; print problems one per line; exit 1 if any failed.",
    ),
    "serve": CommandSpec(
        "serve", "serve", "Serve every loaded agent over gRPC until SIGTERM or SIGINT."
    ),
    "run": CommandSpec(
        "run",
        "run",
        "Run one task through an agent and show it happening (no Flyte cluster needed).",
    ),
    "new": CommandSpec(
        "new",
        "new",
        "Scaffold a plugin distribution: pyproject, example agent, tests, README, CHANGELOG.",
    ),
    "propeller-config": CommandSpec(
        "propeller",
        "propeller_config",
        "Print the FlytePropeller configuration (YAML) that routes this host's task types to it.",
    ),
    "health": CommandSpec(
        "health", "health", "Check a server's gRPC health service; exit 0 if SERVING, 1 otherwise."
    ),
}
"""Every command, in the order ``--help`` lists them."""


def load_command(name: str) -> Any:
    """The click command of ``name`` (importing its module), built by typer from the function
    ``COMMANDS[name]`` names."""
    spec = COMMANDS[name]
    function = getattr(importlib.import_module(f"{__name__}.{spec.module}"), spec.function)
    single = typer.Typer(add_completion=False)
    single.command(name)(function)
    return typer.main.get_command(single)


class LazyGroup(typer.core.TyperGroup):
    """A typer group holding a light placeholder per ``COMMANDS`` entry (name and summary,
    enough for ``--help`` and for "did you mean" suggestions) and swapping in the real command
    when one is invoked."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, spec in COMMANDS.items():
            self.commands.setdefault(name, _Placeholder(name, help=spec.summary))

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """Import the command about to run, then resolve as typer does."""
        if args and isinstance(self.commands.get(args[0]), _Placeholder):
            self.commands[args[0]] = load_command(args[0])
        return super().resolve_command(ctx, args)


class _Placeholder(typer.core.TyperCommand):
    """A command not imported yet: only its name and summary."""


app = typer.Typer(
    name="agenthost",
    cls=LazyGroup,
    help="Serve Flyte agents over gRPC, discovered through the flyte.agents entry-point group.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
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


def main() -> None:
    """Console-script entry point."""
    app()
