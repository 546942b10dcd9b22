"""``agenthost run``: run one task through an agent and watch it, without a Flyte cluster.

In-process by default (plugins are loaded here and called through the ``Dispatcher``), or
against a running server with ``--endpoint``. Progress goes to stderr (a live status line on a
terminal, one line per change otherwise; ``agenthost.cli.run_display``); the outputs go to
stdout. The options become one ``RunOptions``.

Exit codes: 0 the task succeeded, 1 it failed (or the agent or the server failed), 2 usage
error (bad template, inputs or options; unknown task type), 130 interrupted (the task was
deleted).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from flyteidl.core import literals_pb2, tasks_pb2
from rich.console import Console

from agenthost.cli.options import (
    AllowOption,
    BlockOption,
    ClientTLS,
    ModulesOption,
    PluginSelection,
    ca_cert_option,
    client_cert_option,
    client_key_option,
    host_port_problem,
    seconds_problem,
    server_name_option,
)
from agenthost.cli.run_display import EXIT_FAILED, Display, report
from agenthost.errors import AgentHostError, InvalidRequestError, UnknownTaskTypeError
from agenthost.run.backends import DEFAULT_OUTPUT_PREFIX, Backend, LocalBackend
from agenthost.run.lifecycle import (
    Backoff,
    RemoteCallError,
    RunInterrupted,
    RunResult,
    RunTimeout,
    run_task,
)
from agenthost.run.taskfiles import (
    TemplateError,
    json_argument,
    literal_map_from_json,
    load_template,
    looks_like_literal_map,
    parse_input_assignments,
)
from agenthost.run.templates import make_inputs, make_template

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1", "ip6-localhost")

BackendFactory = Callable[[], Backend]
"""Makes the backend inside the run's event loop (gRPC aio channels belong to one loop)."""


class UsageError(Exception):
    """A problem with what the user asked for: printed, exit 2."""


@dataclass(frozen=True)
class RunOptions:
    """Everything ``agenthost run`` was told, as typed values (see the command's options)."""

    task_type: str | None = None
    template_path: Path | None = None
    custom: str | None = None
    sql: str | None = None
    task_type_version: int = 0
    input_values: tuple[str, ...] = ()
    inputs_json: str | None = None
    endpoint: str | None = None
    protocol: str = "v1"
    insecure: bool | None = None
    tls: ClientTLS = field(default_factory=ClientTLS)
    plugins: PluginSelection = field(default_factory=PluginSelection)
    output: str = "json"
    output_prefix: str = DEFAULT_OUTPUT_PREFIX
    timeout: float | None = None
    max_poll_interval: float = 5.0
    rpc_timeout: float = 60.0

    def check(self) -> None:
        """Raise ``UsageError`` for values no run can use."""
        if self.protocol not in ("v1", "v2"):
            raise UsageError(f"--protocol must be v1 or v2, not {self.protocol!r}")
        if self.output not in ("json", "table"):
            raise UsageError("--output must be json or table")
        for option, value in (
            ("--timeout", self.timeout),
            ("--max-poll-interval", self.max_poll_interval),
            ("--rpc-timeout", self.rpc_timeout),
        ):
            if problem := seconds_problem(option, value):
                raise UsageError(problem)
        task_type, path = self.template_source()
        if (task_type is None) == (path is None):
            raise UsageError("give either TASK_TYPE or --template FILE (exactly one)")
        if path is not None and (self.custom is not None or self.sql is not None):
            raise UsageError("--custom and --sql build a template; they do not apply to --template")
        if self.endpoint:
            self._check_connection(self.endpoint)

    def _check_connection(self, endpoint: str) -> None:
        """Raise ``UsageError`` for an endpoint or TLS options no connection can use."""
        if problem := host_port_problem(endpoint) or self.tls.problem():
            raise UsageError(problem)
        if self.insecure and self.tls.requested:
            raise UsageError("--insecure cannot be combined with --ca-cert/--client-cert")

    def template_source(self) -> tuple[str | None, Path | None]:
        """``(TASK_TYPE, None)`` to build a template, or ``(None, FILE)`` to read one: the
        ``--template`` file, or a TASK_TYPE naming an existing ``.pb`` or ``.json`` file."""
        task_type, path = self.task_type, self.template_path
        if (
            path is None
            and task_type is not None
            and task_type.endswith((".pb", ".json"))
            and Path(task_type).is_file()
        ):
            return None, Path(task_type)
        return task_type, path

    @property
    def plaintext(self) -> bool:
        """Whether to talk to ``endpoint`` without TLS: as told, else for loopback addresses
        when no CA or client certificate is given."""
        if self.insecure is not None:
            return self.insecure
        host = (self.endpoint or "").rsplit(":", 1)[0]
        return host in LOOPBACK_HOSTS and not self.tls.requested


def run(
    task_type: Annotated[
        Optional[str],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Argument(
            help="Task type to run (builds a template; use with --custom/--sql). "
            "Omit when giving --template.",
            show_default=False,
        ),
    ] = None,
    template: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--template",
            "-t",
            help="Task template file: binary protobuf (.pb: TaskTemplate or TaskSpec) or "
            "flyteidl JSON (TaskTemplate, TaskSpec or an admin Task).",
        ),
    ] = None,
    custom: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="The template's custom field as a JSON object (or @file.json)."),
    ] = None,
    sql: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="SQL statement of the template (for SQL agents)."),
    ] = None,
    task_type_version: Annotated[
        int, typer.Option(help="task_type_version of a template built from TASK_TYPE.")
    ] = 0,
    input_values: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--input",
            "-i",
            help="An input as NAME=VALUE (repeatable). Typed by the template's interface; "
            "otherwise VALUE is JSON if it parses, else text, and its type follows the value.",
        ),
    ] = None,
    inputs_json: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--inputs",
            help="All inputs as a JSON object of values, or a flyteidl LiteralMap in JSON "
            "(or @file.json). --input entries override it.",
        ),
    ] = None,
    endpoint: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            envvar="AGENTHOST_ENDPOINT",
            help="Run against the agent service at HOST:PORT instead of in-process (where "
            "--allow/--block/--modules choose the plugins).",
        ),
    ] = None,
    protocol: Annotated[
        str,
        typer.Option(
            help="Protocol to talk to --endpoint: v1 (flyteidl agent services, as Flyte 1 "
            "propeller) or v2 (flyteidl2 connector services, as the Flyte 2 executor).",
        ),
    ] = "v1",
    insecure: Annotated[
        Optional[bool],  # noqa: UP045
        typer.Option(
            "--insecure/--tls",
            help="Plaintext or TLS to --endpoint. Default: plaintext for loopback addresses, "
            "TLS (system roots unless --ca-cert) otherwise.",
            show_default=False,
        ),
    ] = None,
    tls_ca: Annotated[
        Optional[Path],  # noqa: UP045
        ca_cert_option("--tls-ca"),
    ] = None,
    tls_cert: Annotated[
        Optional[Path],  # noqa: UP045
        client_cert_option("--tls-cert"),
    ] = None,
    tls_key: Annotated[
        Optional[Path],  # noqa: UP045
        client_key_option("--tls-key"),
    ] = None,
    tls_server_name: Annotated[
        Optional[str],  # noqa: UP045
        server_name_option(),
    ] = None,
    allow: AllowOption = None,
    block: BlockOption = None,
    modules: ModulesOption = None,
    output: Annotated[
        str, typer.Option("--output", "-o", help="How to print the outputs: json or table.")
    ] = "json",
    output_prefix: Annotated[
        str,
        typer.Option(
            help="Base URI the agent is told to write outputs under (each call's output_prefix "
            "is it plus the task's name).",
        ),
    ] = DEFAULT_OUTPUT_PREFIX,
    timeout: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="Give up (and delete the task) after this many seconds."),
    ] = None,
    max_poll_interval: Annotated[
        float, typer.Option(help="Longest wait between two status polls, in seconds.")
    ] = 5.0,
    rpc_timeout: Annotated[
        float, typer.Option(help="Deadline of each call to --endpoint, in seconds.")
    ] = 60.0,
) -> None:
    """Run one task through an agent and show it happening (no Flyte cluster needed)."""
    options = RunOptions(
        task_type=task_type,
        template_path=template,
        custom=custom,
        sql=sql,
        task_type_version=task_type_version,
        input_values=tuple(input_values or ()),
        inputs_json=inputs_json,
        endpoint=endpoint,
        protocol=protocol,
        insecure=insecure,
        tls=ClientTLS(tls_ca, tls_cert, tls_key, tls_server_name),
        plugins=PluginSelection.from_options(allow, block, modules),
        output=output,
        output_prefix=output_prefix,
        timeout=timeout,
        max_poll_interval=max_poll_interval,
        rpc_timeout=rpc_timeout,
    )
    # No markup nor emoji: messages quote endpoints, paths and what agents said
    # ("localhost:abc:" is not an emoji code).
    err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False, emoji=False)
    try:
        code = execute(options, err)
    except UsageError as exc:
        err.print(f"error: {exc}", markup=False)
        code = EXIT_USAGE
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        code = EXIT_INTERRUPTED
    raise typer.Exit(code)


def execute(options: RunOptions, err: Console) -> int:
    """Run the task ``options`` describe, reporting on ``err``; the exit code. Raises
    ``UsageError`` for what the user must fix."""
    options.check()
    try:
        template, inputs = task_and_inputs(options)
    except (TemplateError, InvalidRequestError) as exc:
        raise UsageError(str(exc)) from None
    if options.endpoint:
        backend_factory = _remote_factory(options)
        where = options.endpoint
    else:
        backend_factory = _local_factory(options, template)
        where = "in-process"
    err.print(f"running {template.type} (v{template.task_type_version}) {where}", markup=False)
    display = Display(err)
    try:
        result = _drive(backend_factory, template, inputs, display, options)
    except RunInterrupted as exc:
        display.stop()
        err.print(str(exc), markup=False)
        return EXIT_INTERRUPTED
    except (UnknownTaskTypeError, InvalidRequestError) as exc:
        display.stop()
        raise UsageError(str(exc)) from None
    except RemoteCallError as exc:
        display.stop()
        if exc.code in ("INVALID_ARGUMENT", "NOT_FOUND"):
            raise UsageError(exc.details or str(exc)) from None
        if exc.code == "UNAVAILABLE":
            err.print(f"error: cannot reach {options.endpoint}: {exc.details}", markup=False)
        else:
            err.print(f"error: {exc}", markup=False)
        return EXIT_FAILED
    except (RunTimeout, AgentHostError) as exc:
        display.stop()
        err.print(f"error: {exc}", markup=False)
        return EXIT_FAILED
    except Exception as exc:  # never a traceback for the user
        display.stop()
        err.print(f"error: {type(exc).__name__}: {exc}", markup=False)
        return EXIT_FAILED
    display.stop()
    return report(err, result, options.output)


def task_and_inputs(
    options: RunOptions,
) -> tuple[tasks_pb2.TaskTemplate, literals_pb2.LiteralMap]:
    """The template and the input LiteralMap the options describe; ``TemplateError`` if they
    cannot be read or built."""
    literal_map = None
    values: dict[str, Any] = {}
    if options.inputs_json is not None:
        obj = json_argument("--inputs", options.inputs_json)
        if looks_like_literal_map(obj):
            literal_map = literal_map_from_json(obj)
        elif isinstance(obj, dict):
            values = dict(obj)
        else:
            raise TemplateError("--inputs must be a JSON object")
    task_type, path = options.template_source()
    if path is not None:
        template = load_template(path)
        values.update(parse_input_assignments(options.input_values, template))
    else:
        assert task_type is not None  # RunOptions.check: exactly one of the two
        custom = None
        if options.custom is not None:
            custom = json_argument("--custom", options.custom)
            if not isinstance(custom, dict):
                raise TemplateError("--custom must be a JSON object")
        values.update(parse_input_assignments(options.input_values, None))
        template = make_template(
            task_type,
            custom=custom or None,
            sql=options.sql,
            version=options.task_type_version,
            name=f"agenthost-run.{task_type}",
            project="local",
            revision="local",
            typed=False,
        )
    if literal_map is not None:
        if values:
            raise TemplateError("a LiteralMap in --inputs cannot be combined with --input")
        return template, literal_map
    return template, make_inputs(template, values)


def _local_factory(options: RunOptions, template: tasks_pb2.TaskTemplate) -> BackendFactory:
    logging.getLogger("agenthost.plugins").setLevel(logging.ERROR)
    result = options.plugins.load()
    backend = LocalBackend.for_agents(result.agents, output_prefix=options.output_prefix)
    try:
        backend.dispatcher.resolve_template(template)
    except UnknownTaskTypeError as exc:
        served = sorted({str(a.task_category) for a in result.agents}) or ["none"]
        lines = [f"{exc}; served here: {', '.join(served)}"]
        lines += [f"  plugin {p.label} failed: {p.reason}" for p in result.failed]
        raise UsageError("\n".join(lines)) from None
    return lambda: backend


def _remote_factory(options: RunOptions) -> BackendFactory:
    # Only remote runs need grpc's client side.
    from agenthost.run.channels import CredentialsFileError
    from agenthost.run.remote import RemoteBackend, RemoteConnectorBackend

    backend = RemoteConnectorBackend if options.protocol == "v2" else RemoteBackend
    endpoint = options.endpoint
    assert endpoint is not None
    credentials = None
    if not options.plaintext:
        try:
            credentials = options.tls.credentials()
        except CredentialsFileError as exc:
            raise UsageError(str(exc)) from None
    return lambda: backend(
        endpoint,
        credentials,
        server_name=options.tls.server_name,
        rpc_timeout=options.rpc_timeout,
        output_prefix=options.output_prefix,
    )


def _drive(
    backend_factory: BackendFactory,
    template: tasks_pb2.TaskTemplate,
    inputs: literals_pb2.LiteralMap,
    display: Display,
    options: RunOptions,
) -> RunResult:
    async def main() -> RunResult:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        interrupts = 0

        def on_sigint() -> None:
            nonlocal interrupts
            interrupts += 1
            if interrupts > 1:
                os._exit(EXIT_INTERRUPTED)
            display.note("interrupted: deleting the task (Ctrl-C again to quit at once)")
            if task is not None:
                task.cancel()

        # Not possible outside the main thread or on Windows: Ctrl-C then just stops.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, on_sigint)
        backend = backend_factory()
        display.start()
        try:
            return await run_task(
                backend,
                template,
                inputs,
                on_status=display.update,
                backoff=Backoff(maximum=options.max_poll_interval),
                timeout=options.timeout,
            )
        finally:
            await backend.close()
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)

    return asyncio.run(main())
