"""Drive one task through an agent's whole lifecycle, the way propeller would, without Flyte.

Async agents (and sensors): ``create``, then ``get`` with backoff until the phase is terminal;
cancelling the run (Ctrl-C in ``agenthost run``) calls ``delete``. Sync agents: ``do``.

Two backends speak the same protocol: ``LocalBackend`` calls a ``Dispatcher`` in this process
(no server), ``RemoteBackend`` calls a running ``agenthost serve`` (or any flyteidl agent
service) over gRPC. ``agenthost run`` and ``agenthost.testing`` both use ``run_task``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from flyteidl.admin import agent_pb2
from flyteidl.core import execution_pb2, identifier_pb2, literals_pb2, tasks_pb2
from google.protobuf import json_format, struct_pb2
from google.protobuf.message import DecodeError

from agenthost.errors import AgentHostError, InvalidRequestError
from agenthost.phases import is_terminal_phase, phase_name

if TYPE_CHECKING:
    import grpc

    from agenthost.agent import AgentBase
    from agenthost.dispatch import Dispatcher

SUCCESS_PHASES = frozenset({execution_pb2.TaskExecution.SUCCEEDED})
"""Terminal phases that count as success."""


class TemplateError(InvalidRequestError):
    """A task template or its inputs could not be read or built (a usage error)."""


class RemoteCallError(AgentHostError):
    """A call to a remote agent service failed; carries the gRPC status code name."""

    def __init__(self, operation: str, code: str, details: str) -> None:
        self.operation = operation
        self.code = code
        self.details = details
        super().__init__(f"{operation} failed with {code}: {details}")


class RunInterrupted(AgentHostError):
    """The run was cancelled (Ctrl-C). ``deleted`` tells whether ``delete`` was called and
    succeeded; ``delete_error`` holds a one-line reason if it failed."""

    def __init__(self, created: bool, deleted: bool, delete_error: str | None = None) -> None:
        self.created = created
        self.deleted = deleted
        self.delete_error = delete_error
        if not created:
            text = "interrupted before the task was created"
        elif deleted:
            text = "interrupted; the task was deleted"
        else:
            text = f"interrupted; deleting the task failed: {delete_error}"
        super().__init__(text)


class RunTimeout(AgentHostError):
    """The task did not reach a terminal phase in time (it was deleted)."""


# -- status and result --------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """One observation of the task: its phase, message and log links, and when it was seen
    (seconds since the run started)."""

    phase: int
    message: str
    log_links: tuple[execution_pb2.TaskLog, ...]
    elapsed: float

    @property
    def phase_name(self) -> str:
        """The flyteidl name of the phase (``"RUNNING"``)."""
        return phase_name(self.phase)

    @classmethod
    def of(cls, resource: agent_pb2.Resource, elapsed: float) -> Status:
        """The status a flyteidl ``Resource`` reports."""
        return cls(resource.phase, resource.message, tuple(resource.log_links), elapsed)


@dataclass
class RunResult:
    """The final ``Resource`` of a run, every status seen on the way, and the template."""

    resource: agent_pb2.Resource
    template: tasks_pb2.TaskTemplate
    statuses: list[Status] = field(default_factory=list)

    @property
    def phase(self) -> int:
        """The final phase."""
        return int(self.resource.phase)

    @property
    def phase_name(self) -> str:
        """The final phase's name (``"SUCCEEDED"``)."""
        return phase_name(self.resource.phase)

    @property
    def message(self) -> str:
        """The final message."""
        return str(self.resource.message)

    @property
    def succeeded(self) -> bool:
        """Whether the task succeeded."""
        return self.resource.phase in SUCCESS_PHASES

    @property
    def outputs(self) -> dict[str, Any]:
        """The outputs as Python values, typed by the template's output interface when it
        declares the same names, untyped otherwise."""
        from agenthost.literals import literal_map_to_python

        literals = self.resource.outputs
        declared = self.template.interface.outputs if self.template.HasField("interface") else None
        if declared is not None and set(declared.variables) == set(literals.literals):
            return literal_map_to_python(literals, declared, kind="output")
        return literal_map_to_python(literals, None, kind="output")


# -- backends ----------------------------------------------------------------------------


class Backend(Protocol):
    """Where a run's calls go."""

    async def is_sync(self, template: tasks_pb2.TaskTemplate) -> bool:
        """Whether the agent for ``template`` is synchronous (raises if none serves it)."""

    async def create(
        self, template: tasks_pb2.TaskTemplate, inputs: literals_pb2.LiteralMap
    ) -> bytes:
        """Start the task; return its ``resource_meta``."""

    async def get(
        self, template: tasks_pb2.TaskTemplate, resource_meta: bytes
    ) -> agent_pb2.Resource:
        """The task's current ``Resource``."""

    async def delete(self, template: tasks_pb2.TaskTemplate, resource_meta: bytes) -> None:
        """Cancel the task."""

    async def do(
        self, template: tasks_pb2.TaskTemplate, inputs: literals_pb2.LiteralMap
    ) -> agent_pb2.Resource:
        """Run a sync agent; return its final ``Resource``."""

    async def close(self) -> None:
        """Release connections."""


def _category(template: tasks_pb2.TaskTemplate) -> agent_pb2.TaskCategory:
    return agent_pb2.TaskCategory(name=template.type, version=template.task_type_version)


def _output_prefix(template: tasks_pb2.TaskTemplate) -> str:
    return f"file:///tmp/agenthost-run/{template.id.name or template.type}"


class LocalBackend:
    """Calls a ``Dispatcher`` in this process."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    @classmethod
    def for_agents(cls, agents: Iterable[AgentBase]) -> LocalBackend:
        """A backend serving exactly ``agents``."""
        from agenthost.dispatch import Dispatcher

        return cls(Dispatcher(agents))

    async def is_sync(self, template: tasks_pb2.TaskTemplate) -> bool:
        """See ``Backend``."""
        return self.dispatcher.resolve_template(template).is_sync

    async def create(
        self, template: tasks_pb2.TaskTemplate, inputs: literals_pb2.LiteralMap
    ) -> bytes:
        """See ``Backend``."""
        return await self.dispatcher.create(
            template, inputs, output_prefix=_output_prefix(template)
        )

    async def get(
        self, template: tasks_pb2.TaskTemplate, resource_meta: bytes
    ) -> agent_pb2.Resource:
        """See ``Backend``."""
        return await self.dispatcher.get(
            template.type,
            _category(template),
            resource_meta,
            output_prefix=_output_prefix(template),
        )

    async def delete(self, template: tasks_pb2.TaskTemplate, resource_meta: bytes) -> None:
        """See ``Backend``."""
        await self.dispatcher.delete(template.type, _category(template), resource_meta)

    async def do(
        self, template: tasks_pb2.TaskTemplate, inputs: literals_pb2.LiteralMap
    ) -> agent_pb2.Resource:
        """See ``Backend``."""
        return await self.dispatcher.do(template, inputs, output_prefix=_output_prefix(template))

    async def close(self) -> None:
        """Nothing to release."""


class RemoteBackend:
    """Calls a flyteidl agent service over gRPC (``grpc.aio``)."""

    def __init__(
        self,
        address: str,
        credentials: grpc.ChannelCredentials | None = None,
        *,
        server_name: str | None = None,
        rpc_timeout: float = 60.0,
    ) -> None:
        import grpc.aio
        from flyteidl.service import agent_pb2_grpc

        self.address = address
        options: list[tuple[str, Any]] = []
        if server_name:
            options.append(("grpc.ssl_target_name_override", server_name))
        if credentials is None:
            self.channel = grpc.aio.insecure_channel(address, options=options)
        else:
            self.channel = grpc.aio.secure_channel(address, credentials, options=options)
        self.async_stub = agent_pb2_grpc.AsyncAgentServiceStub(self.channel)
        self.sync_stub = agent_pb2_grpc.SyncAgentServiceStub(self.channel)
        self.metadata_stub = agent_pb2_grpc.AgentMetadataServiceStub(self.channel)
        self.rpc_timeout = rpc_timeout

    async def _call(self, operation: str, call: Any, request: Any) -> Any:
        import grpc

        try:
            return await call(request, timeout=self.rpc_timeout)
        except grpc.aio.AioRpcError as exc:
            raise RemoteCallError(operation, exc.code().name, exc.details() or "") from None

    async def is_sync(self, template: tasks_pb2.TaskTemplate) -> bool:
        """Asks ``ListAgents``; an agent service without it is assumed asynchronous."""
        try:
            listed = await self._call(
                "ListAgents", self.metadata_stub.ListAgents, agent_pb2.ListAgentsRequest()
            )
        except RemoteCallError as exc:
            if exc.code == "UNIMPLEMENTED":
                return False
            raise
        for agent in listed.agents:
            for category in agent.supported_task_categories:
                if (category.name, category.version) == (template.type, template.task_type_version):
                    return bool(agent.is_sync)
        for agent in listed.agents:
            if template.type in agent.supported_task_types:
                return bool(agent.is_sync)
        return False

    async def create(
        self, template: tasks_pb2.TaskTemplate, inputs: literals_pb2.LiteralMap
    ) -> bytes:
        """See ``Backend``."""
        request = agent_pb2.CreateTaskRequest(
            inputs=inputs, template=template, output_prefix=_output_prefix(template)
        )
        response = await self._call("CreateTask", self.async_stub.CreateTask, request)
        return bytes(response.resource_meta)

    async def get(
        self, template: tasks_pb2.TaskTemplate, resource_meta: bytes
    ) -> agent_pb2.Resource:
        """See ``Backend``."""
        request = agent_pb2.GetTaskRequest(
            task_type=template.type,
            task_category=_category(template),
            resource_meta=resource_meta,
            output_prefix=_output_prefix(template),
        )
        response = await self._call("GetTask", self.async_stub.GetTask, request)
        return response.resource  # type: ignore[no-any-return]

    async def delete(self, template: tasks_pb2.TaskTemplate, resource_meta: bytes) -> None:
        """See ``Backend``."""
        request = agent_pb2.DeleteTaskRequest(
            task_type=template.type, task_category=_category(template), resource_meta=resource_meta
        )
        await self._call("DeleteTask", self.async_stub.DeleteTask, request)

    async def do(
        self, template: tasks_pb2.TaskTemplate, inputs: literals_pb2.LiteralMap
    ) -> agent_pb2.Resource:
        """Streams the header, then the inputs, as propeller does."""
        import grpc

        header = agent_pb2.ExecuteTaskSyncRequest(
            header=agent_pb2.CreateRequestHeader(
                template=template, output_prefix=_output_prefix(template)
            )
        )
        body = agent_pb2.ExecuteTaskSyncRequest(inputs=inputs)

        async def requests() -> Any:
            yield header
            yield body

        try:
            call = self.sync_stub.ExecuteTaskSync(requests(), timeout=self.rpc_timeout)
            async for response in call:
                return response.header.resource  # type: ignore[no-any-return]
        except grpc.aio.AioRpcError as exc:
            raise RemoteCallError("ExecuteTaskSync", exc.code().name, exc.details() or "") from None
        raise RemoteCallError("ExecuteTaskSync", "UNKNOWN", "the server sent no response")

    async def close(self) -> None:
        """Close the channel."""
        await self.channel.close(None)


class RemoteConnectorBackend(RemoteBackend):
    """Calls a Flyte 2 connector service (``flyteidl2.connector.AsyncConnectorService``) over
    gRPC, as the Flyte 2 executor does: inputs as a NamedLiteral list, no sync service (a sync
    agent runs in ``CreateTask`` and ``GetTask`` returns its result)."""

    SERVICE = "/flyteidl2.connector.AsyncConnectorService/"

    def __init__(self, address: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(address, *args, **kwargs)
        from agenthost.protocols.v2 import wire

        self.wire = wire
        calls = {
            "CreateTask": agent_pb2.CreateTaskResponse,
            "GetTask": agent_pb2.GetTaskResponse,
            "DeleteTask": agent_pb2.DeleteTaskResponse,
        }
        # v2 responses parse as these v1 messages (the same fields on the wire).
        self.calls = {
            name: self.channel.unary_unary(
                self.SERVICE + name,
                request_serializer=_serialize,
                response_deserializer=response.FromString,
            )
            for name, response in calls.items()
        }

    async def is_sync(self, template: tasks_pb2.TaskTemplate) -> bool:
        """Always False: v2 runs sync agents through ``CreateTask``."""
        return False

    async def create(
        self, template: tasks_pb2.TaskTemplate, inputs: literals_pb2.LiteralMap
    ) -> bytes:
        """See ``Backend``."""
        request = self.wire.CreateTaskRequest(
            output_prefix=_output_prefix(template), inputs=inputs.SerializeToString()
        )  # a LiteralMap's bytes are a NamedLiteral list (map entries on the wire)
        request.template.CopyFrom(template)
        response = await self._call("CreateTask", self.calls["CreateTask"], request)
        return bytes(response.resource_meta)

    async def get(
        self, template: tasks_pb2.TaskTemplate, resource_meta: bytes
    ) -> agent_pb2.Resource:
        """See ``Backend``."""
        request = self.wire.GetTaskRequest(
            resource_meta=resource_meta, output_prefix=_output_prefix(template)
        )
        request.task_category.CopyFrom(_category(template))
        response = await self._call("GetTask", self.calls["GetTask"], request)
        return response.resource  # type: ignore[no-any-return]

    async def delete(self, template: tasks_pb2.TaskTemplate, resource_meta: bytes) -> None:
        """See ``Backend``."""
        request = self.wire.DeleteTaskRequest(resource_meta=resource_meta)
        request.task_category.CopyFrom(_category(template))
        await self._call("DeleteTask", self.calls["DeleteTask"], request)


def _serialize(message: Any) -> bytes:
    return bytes(message.SerializeToString())


# -- the lifecycle -------------------------------------------------------------------------


@dataclass(frozen=True)
class Backoff:
    """Delays between ``get`` calls: ``initial``, growing by ``factor`` up to ``maximum``."""

    initial: float = 0.2
    factor: float = 1.5
    maximum: float = 5.0

    def delays(self) -> Iterable[float]:
        """The delays, forever."""
        delay = self.initial
        while True:
            yield delay
            delay = min(delay * self.factor, self.maximum)


async def run_task(
    backend: Backend,
    template: tasks_pb2.TaskTemplate,
    inputs: literals_pb2.LiteralMap | None = None,
    *,
    on_status: Callable[[Status], None] | None = None,
    backoff: Backoff = Backoff(),
    timeout: float | None = None,
    delete_timeout: float = 30.0,
) -> RunResult:
    """Run ``template`` to a terminal phase through ``backend``; see the module docstring.

    ``on_status`` sees every status. Cancelling the coroutine after ``create`` calls
    ``delete`` and raises ``RunInterrupted``; exceeding ``timeout`` seconds deletes the task
    and raises ``RunTimeout``. Errors from the agent or the transport propagate.
    """
    inputs = inputs if inputs is not None else literals_pb2.LiteralMap()
    started = time.monotonic()
    statuses: list[Status] = []

    def observe(resource: agent_pb2.Resource) -> None:
        status = Status.of(resource, time.monotonic() - started)
        statuses.append(status)
        if on_status is not None:
            on_status(status)

    try:
        sync = await backend.is_sync(template)
        if sync:
            resource = await backend.do(template, inputs)
            observe(resource)
            return RunResult(resource, template, statuses)
        meta = await backend.create(template, inputs)
    except asyncio.CancelledError:
        raise RunInterrupted(created=False, deleted=False) from None

    async def delete() -> str | None:
        try:
            await asyncio.wait_for(backend.delete(template, meta), delete_timeout)
        except (AgentHostError, asyncio.TimeoutError, OSError) as exc:
            return str(exc) or type(exc).__name__
        return None

    delays = iter(backoff.delays())
    try:
        while True:
            resource = await backend.get(template, meta)
            observe(resource)
            if is_terminal_phase(resource.phase):
                return RunResult(resource, template, statuses)
            delay = next(delays)
            if timeout is not None:
                left = timeout - (time.monotonic() - started)
                if left <= 0:
                    error = await delete()
                    suffix = "" if error is None else f" (deleting it failed: {error})"
                    raise RunTimeout(
                        f"the task did not finish within {timeout:g} s; it was deleted{suffix}"
                    )
                delay = min(delay, left)
            await asyncio.sleep(delay)
    except asyncio.CancelledError:
        error = await delete()
        raise RunInterrupted(created=True, deleted=error is None, delete_error=error) from None


def run_blocking(
    backend_factory: Callable[[], Backend],
    template: tasks_pb2.TaskTemplate,
    inputs: literals_pb2.LiteralMap | None = None,
    **kwargs: Any,
) -> RunResult:
    """``run_task`` on a fresh event loop (the backend is created inside the loop)."""

    async def main() -> RunResult:
        backend = backend_factory()
        try:
            return await run_task(backend, template, inputs, **kwargs)
        finally:
            await backend.close()

    return asyncio.run(main())


# -- templates and inputs ------------------------------------------------------------------


def load_template(path: Path) -> tasks_pb2.TaskTemplate:
    """Read a task template from ``path``: binary protobuf (``.pb``; a ``TaskTemplate`` or a
    ``TaskSpec`` as ``pyflyte serialize`` writes) or flyteidl JSON (a ``TaskTemplate``, a
    ``TaskSpec`` ``{"template": ...}`` or an admin ``Task`` as ``flytectl get task -o json``
    prints it). Raises ``TemplateError``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TemplateError(f"cannot read template {path}: {exc.strerror or exc}") from None
    if path.suffix.lower() == ".json" or data.lstrip()[:1] in (b"{", b"["):
        return _template_from_json(path, data)
    return _template_from_binary(path, data)


def _template_from_binary(path: Path, data: bytes) -> tasks_pb2.TaskTemplate:
    from flyteidl.admin import task_pb2

    spec = task_pb2.TaskSpec()
    try:
        spec.ParseFromString(data)
        # A bare TaskTemplate also parses as a TaskSpec, but never with a typed template id.
        if spec.template.type and spec.template.HasField("id"):
            return spec.template  # type: ignore[no-any-return]
    except (DecodeError, ValueError, RuntimeError):
        pass
    template = tasks_pb2.TaskTemplate()
    try:
        template.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError):
        raise TemplateError(f"{path} is not a protobuf TaskTemplate or TaskSpec") from None
    if not template.type:
        raise TemplateError(f"{path} holds no task template (it has no task type)")
    return template


def _template_from_json(path: Path, data: bytes) -> tasks_pb2.TaskTemplate:
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise TemplateError(f"{path} is not valid JSON") from None
    if isinstance(obj, dict):
        closure = obj.get("closure")
        if isinstance(closure, dict):
            obj = closure.get("compiledTask") or closure.get("compiled_task") or obj
        if isinstance(obj, dict) and isinstance(obj.get("template"), dict):
            obj = obj["template"]
    if not isinstance(obj, dict):
        raise TemplateError(f"{path} does not hold a JSON object")
    template = tasks_pb2.TaskTemplate()
    try:
        json_format.ParseDict(obj, template, ignore_unknown_fields=False)
    except json_format.ParseError as exc:
        raise TemplateError(f"{path} is not a flyteidl TaskTemplate: {exc}") from None
    if not template.type:
        raise TemplateError(f"{path} holds no task template (it has no task type)")
    return template


def build_template(
    task_type: str,
    *,
    custom: Mapping[str, Any] | None = None,
    sql: str | None = None,
    version: int = 0,
) -> tasks_pb2.TaskTemplate:
    """A template for ``task_type`` with ``custom`` and an optional SQL statement.

    It declares no interface: its inputs are encoded untyped (each literal's type follows the
    Python value, as ``make_inputs`` does), and so are the outputs the agent returns. A typed
    interface with no declared outputs would make the host reject every output.
    """
    template = tasks_pb2.TaskTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK,
            project="local",
            domain="development",
            name=f"agenthost-run.{task_type}",
            version="local",
        ),
        type=task_type,
        task_type_version=version,
    )
    if custom:
        template.custom.CopyFrom(json_format.ParseDict(dict(custom), struct_pb2.Struct()))
    if sql is not None:
        template.sql.CopyFrom(tasks_pb2.Sql(statement=sql, dialect=tasks_pb2.Sql.ANSI))
    return template


def parse_input_assignments(
    assignments: Sequence[str], template: tasks_pb2.TaskTemplate | None
) -> dict[str, Any]:
    """``["name=value", ...]`` to ``{name: value}``. A value is kept as text when the
    template declares the input a string; otherwise it is JSON if it parses, else text."""
    from flyteidl.core import types_pb2

    declared = (
        template.interface.inputs.variables
        if template is not None and template.HasField("interface")
        else {}
    )
    values: dict[str, Any] = {}
    for item in assignments:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise TemplateError(f"--input {item!r} is not NAME=VALUE")
        variable = declared.get(name)
        if variable is not None and variable.type.simple == types_pb2.STRING:
            values[name] = raw
            continue
        try:
            values[name] = json.loads(raw)
        except ValueError:
            values[name] = raw
    return values


def looks_like_literal_map(obj: Any) -> bool:
    """Whether ``obj`` is a flyteidl ``LiteralMap`` in JSON (``{"literals": {...}}``)."""
    return (
        isinstance(obj, dict)
        and set(obj) == {"literals"}
        and isinstance(obj["literals"], dict)
        and all(
            isinstance(v, dict)
            and bool(v.keys() & {"scalar", "collection", "map", "offloadedMetadata"})
            for v in obj["literals"].values()
        )
    )


def make_inputs(
    template: tasks_pb2.TaskTemplate, values: Mapping[str, Any] | literals_pb2.LiteralMap | None
) -> literals_pb2.LiteralMap:
    """Inputs for ``template``: a ``LiteralMap`` as is, or Python values encoded with the
    template's input interface (untyped if it declares none)."""
    from agenthost.literals import to_literal_map

    if values is None:
        return literals_pb2.LiteralMap()
    if isinstance(values, literals_pb2.LiteralMap):
        return values
    variables = template.interface.inputs if template.HasField("interface") else None
    return to_literal_map(values, variables, kind="input")
