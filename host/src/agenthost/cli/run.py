"""``agenthost run``: run one task through an agent and watch it, without a Flyte cluster.

In-process by default (plugins are loaded here and called through the ``Dispatcher``), or
against a running server with ``--endpoint``. Progress goes to stderr (a live status line on a
terminal, one line per change otherwise); the outputs go to stdout.

Exit codes: 0 the task succeeded, 1 it failed (or the agent or the server failed), 2 usage
error (bad template, inputs or options; unknown task type), 130 interrupted (the task was
deleted).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from agenthost.runner import Backend, RunResult, Status

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1", "ip6-localhost")

_LIST_HELP = " Repeat the option or separate names with commas."


class UsageError(Exception):
    """A problem with what the user asked for: printed, exit 2."""


def _names(values: list[str] | None) -> list[str]:
    return [n for v in values or () for n in v.replace(",", " ").split() if n]


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
            help="Run against the agent service at HOST:PORT instead of in-process.",
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
        typer.Option(
            "--ca-cert",
            "--tls-ca",
            help="PEM CA bundle that signed the server's certificate (implies TLS).",
        ),
    ] = None,
    tls_cert: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--client-cert",
            "--tls-cert",
            help="PEM client certificate, for servers that require mutual TLS.",
        ),
    ] = None,
    tls_key: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--client-key", "--tls-key", help="PEM private key of --client-cert."),
    ] = None,
    tls_server_name: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--server-name",
            help="Name to expect in the server's certificate (default: the endpoint's host).",
        ),
    ] = None,
    allow: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            envvar="AGENTHOST_ALLOW",
            help="In-process: only load these plugins." + _LIST_HELP,
        ),
    ] = None,
    block: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(envvar="AGENTHOST_BLOCK", help="In-process: never load these plugins."),
    ] = None,
    modules: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            envvar="AGENTHOST_MODULES",
            help="In-process: extra modules to import as plugins." + _LIST_HELP,
        ),
    ] = None,
    output: Annotated[
        str, typer.Option("--output", "-o", help="How to print the outputs: json or table.")
    ] = "json",
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
    from rich.console import Console

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        code = _run(
            err,
            task_type=task_type,
            template_path=template,
            custom=custom,
            sql=sql,
            task_type_version=task_type_version,
            input_values=input_values or [],
            inputs_json=inputs_json,
            endpoint=endpoint,
            protocol=protocol,
            insecure=insecure,
            tls=(tls_ca, tls_cert, tls_key, tls_server_name),
            plugins=(allow, block, modules),
            output=output,
            timeout=timeout,
            max_poll_interval=max_poll_interval,
            rpc_timeout=rpc_timeout,
        )
    except UsageError as exc:
        err.print(f"error: {exc}", markup=False)
        code = EXIT_USAGE
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        code = EXIT_INTERRUPTED
    raise typer.Exit(code)


def _run(err: Console, **opts: Any) -> int:
    from agenthost.errors import AgentHostError, InvalidRequestError, UnknownTaskTypeError
    from agenthost.runner import (
        RemoteCallError,
        RunInterrupted,
        RunTimeout,
        TemplateError,
    )

    if opts["protocol"] not in ("v1", "v2"):
        raise UsageError(f"--protocol must be v1 or v2, not {opts['protocol']!r}")
    if opts["output"] not in ("json", "table"):
        raise UsageError("--output must be json or table")
    if opts["max_poll_interval"] <= 0:
        raise UsageError("--max-poll-interval must be positive")
    try:
        template, inputs = _task(opts)
    except (TemplateError, InvalidRequestError) as exc:
        raise UsageError(str(exc)) from None
    if opts["endpoint"]:
        backend_factory = _remote_factory(opts)
        where = opts["endpoint"]
    else:
        backend_factory = _local_factory(opts, template)
        where = "in-process"
    err.print(f"running {template.type} (v{template.task_type_version}) {where}", markup=False)
    display = _Display(err)
    try:
        result = _drive(backend_factory, template, inputs, display, opts)
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
            err.print(f"error: cannot reach {opts['endpoint']}: {exc.details}", markup=False)
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
    return _report(err, result, opts["output"])


def _task(opts: dict[str, Any]) -> tuple[Any, Any]:
    """The template and the input LiteralMap from the options."""
    from agenthost.runner import (
        TemplateError,
        build_template,
        load_template,
        looks_like_literal_map,
        make_inputs,
        parse_input_assignments,
    )

    task_type: str | None = opts["task_type"]
    path: Path | None = opts["template_path"]
    if (
        path is None
        and task_type is not None
        and task_type.endswith((".pb", ".json"))
        and Path(task_type).is_file()
    ):
        path = Path(task_type)
        task_type = None
    if (task_type is None) == (path is None):
        raise UsageError("give either TASK_TYPE or --template FILE (exactly one)")
    if path is not None and (opts["custom"] is not None or opts["sql"] is not None):
        raise UsageError("--custom and --sql build a template; they do not apply to --template")
    literal_map = None
    values: dict[str, Any] = {}
    if opts["inputs_json"] is not None:
        obj = _json_argument("--inputs", opts["inputs_json"])
        if looks_like_literal_map(obj):
            from flyteidl.core import literals_pb2
            from google.protobuf import json_format

            try:
                literal_map = json_format.ParseDict(obj, literals_pb2.LiteralMap())
            except json_format.ParseError as exc:
                raise TemplateError(f"--inputs is not a valid LiteralMap: {exc}") from None
        elif isinstance(obj, dict):
            values = dict(obj)
        else:
            raise TemplateError("--inputs must be a JSON object")
    if path is not None:
        template = load_template(path)
        values.update(parse_input_assignments(opts["input_values"], template))
    else:
        assert task_type is not None
        custom = None
        if opts["custom"] is not None:
            custom = _json_argument("--custom", opts["custom"])
            if not isinstance(custom, dict):
                raise TemplateError("--custom must be a JSON object")
        values.update(parse_input_assignments(opts["input_values"], None))
        template = build_template(
            task_type, custom=custom, sql=opts["sql"], version=opts["task_type_version"]
        )
    if literal_map is not None:
        if values:
            raise TemplateError("a LiteralMap in --inputs cannot be combined with --input")
        return template, literal_map
    return template, make_inputs(template, values)


def _json_argument(option: str, text: str) -> Any:
    import json

    from agenthost.runner import TemplateError

    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise TemplateError(f"{option}: cannot read {text[1:]}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise TemplateError(f"{option} is not valid JSON: {exc}") from None


def _local_factory(opts: dict[str, Any], template: Any) -> Any:
    import logging

    from agenthost.errors import UnknownTaskTypeError
    from agenthost.plugins import load_plugins
    from agenthost.runner import LocalBackend

    allow, block, modules = opts["plugins"]
    logging.getLogger("agenthost.plugins").setLevel(logging.ERROR)
    result = load_plugins(
        allow=_names(allow) if allow else None, block=_names(block), modules=_names(modules)
    )
    backend = LocalBackend.for_agents(result.agents)
    try:
        backend.dispatcher.resolve_template(template)
    except UnknownTaskTypeError as exc:
        served = sorted({str(a.task_category) for a in result.agents}) or ["none"]
        lines = [f"{exc}; served here: {', '.join(served)}"]
        lines += [f"  plugin {p.label} failed: {p.reason}" for p in result.failed]
        raise UsageError("\n".join(lines)) from None
    return lambda: backend


def _remote_factory(opts: dict[str, Any]) -> Any:
    from agenthost.runner import RemoteBackend, RemoteConnectorBackend

    backend = RemoteConnectorBackend if opts["protocol"] == "v2" else RemoteBackend
    endpoint: str = opts["endpoint"]
    tls_ca, tls_cert, tls_key, server_name = opts["tls"]
    if ":" not in endpoint.rsplit("]", 1)[-1]:
        raise UsageError(f"--endpoint {endpoint!r} must be HOST:PORT")
    if (tls_cert is None) != (tls_key is None):
        raise UsageError("--client-cert and --client-key must be given together")
    host = endpoint.rsplit(":", 1)[0]
    insecure = opts["insecure"]
    if insecure is None:
        insecure = host in LOOPBACK_HOSTS and tls_ca is None and tls_cert is None
    if insecure and (tls_ca or tls_cert):
        raise UsageError("--insecure cannot be combined with --ca-cert/--client-cert")
    credentials = None
    if not insecure:
        import grpc

        def read(path: Path | None, what: str) -> bytes | None:
            if path is None:
                return None
            try:
                return path.read_bytes()
            except OSError as exc:
                raise UsageError(f"--{what} {path}: {exc.strerror}") from None

        credentials = grpc.ssl_channel_credentials(
            root_certificates=read(tls_ca, "ca-cert"),
            private_key=read(tls_key, "client-key"),
            certificate_chain=read(tls_cert, "client-cert"),
        )
    return lambda: backend(
        endpoint, credentials, server_name=server_name, rpc_timeout=opts["rpc_timeout"]
    )


def _drive(
    backend_factory: Any, template: Any, inputs: Any, display: _Display, opts: dict[str, Any]
) -> RunResult:
    import asyncio
    import contextlib
    import os
    import signal

    from agenthost.runner import Backoff, run_task

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
        backend: Backend = backend_factory()
        display.start()
        try:
            return await run_task(
                backend,
                template,
                inputs,
                on_status=display.update,
                backoff=Backoff(maximum=opts["max_poll_interval"]),
                timeout=opts["timeout"],
            )
        finally:
            await backend.close()
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)

    return asyncio.run(main())


class _Display:
    """The status line: live on a terminal, one line per change otherwise."""

    def __init__(self, console: Console) -> None:
        import time

        self.console = console
        self.live_mode = console.is_terminal
        self.started = time.monotonic()
        self.status: Status | None = None
        self.seen_links: set[tuple[str, str]] = set()
        self._last: tuple[int, str] | None = None
        self._live: Any = None

    def start(self) -> None:
        """Begin showing the live line (terminals only)."""
        if self.live_mode and self._live is None:
            from rich.live import Live

            self._live = Live(self, console=self.console, refresh_per_second=8, transient=True)
            self._live.start()

    def stop(self) -> None:
        """Remove the live line."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    def note(self, text: str) -> None:
        """Print a one-off line above the status line."""
        self.console.print(text, markup=False, highlight=False)

    def update(self, status: Status) -> None:
        """Record a new status; print new log links, and a line if it changed (no TTY)."""
        self.status = status
        for link in status.log_links:
            key = (link.name, link.uri)
            if key not in self.seen_links:
                self.seen_links.add(key)
                self.note(f"  log: {link.name or 'link'}: {link.uri}")
        if not self.live_mode and self._last != (status.phase, status.message):
            self._last = (status.phase, status.message)
            self.note(self._line(status, status.elapsed))

    @staticmethod
    def _line(status: Status, elapsed: float) -> str:
        message = f"  {status.message}" if status.message else ""
        return f"[{elapsed:6.1f}s] {status.phase_name}{message}"

    def __rich__(self) -> Any:
        import time

        from rich.spinner import Spinner

        elapsed = time.monotonic() - self.started
        if self.status is None:
            return Spinner("dots", text=f"[{elapsed:6.1f}s] starting", style="cyan")
        return Spinner("dots", text=self._line(self.status, elapsed), style="cyan")


def _report(err: Console, result: RunResult, output: str) -> int:
    """Print the final phase (stderr) and the outputs (stdout); return the exit code."""
    import json
    import sys

    last = result.statuses[-1].elapsed if result.statuses else 0.0
    message = f": {result.message}" if result.message else ""
    err.print(f"{result.phase_name} after {last:.1f}s{message}", markup=False)
    if not result.succeeded:
        return EXIT_FAILED
    try:
        outputs = result.outputs
    except Exception as exc:
        err.print(f"error: cannot decode the outputs: {exc}", markup=False)
        return EXIT_FAILED
    if output == "table":
        from rich.console import Console
        from rich.table import Table

        table = Table("output", "value")
        for name, value in outputs.items():
            table.add_row(name, json.dumps(value, default=_jsonable))
        Console(highlight=False).print(table)
    else:
        sys.stdout.write(json.dumps(outputs, indent=2, default=_jsonable, sort_keys=True) + "\n")
        sys.stdout.flush()
    return 0


def _jsonable(value: Any) -> Any:
    """JSON for the codec's Python values (datetimes, durations, files, datasets, bytes)."""
    import base64
    import dataclasses
    import datetime
    import enum

    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return repr(value)
