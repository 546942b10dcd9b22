"""How the host calls an agent method: the call contract, keyword filtering, per-agent limits
and what agent errors become.

``CALL_CONTRACT`` is the one statement of what each agent method is offered; load-time
validation checks signatures against it and the dispatcher passes exactly its keywords, in its
order. ``async def`` methods are awaited on the running loop (cancellation and deadlines reach
them); plain ``def`` methods run in the loop's default executor (the server's bounded pool),
within the agent's thread share, in a copy of the call's context. Any exception from agent code
that is not an ``agenthost.errors`` type becomes an ``AgentCallError`` with a one-line summary,
``SystemExit`` and ``KeyboardInterrupt`` included: agent code that calls ``sys.exit()`` fails
its call, never the server. Only a cancellation of the call passes through; a
``CancelledError`` agent code raises of its own accord (the task was not cancelled) is an
``AgentCallError`` too, where asyncio can tell (Python 3.11+).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
from collections.abc import AsyncGenerator, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from flyteidl.admin.agent_pb2 import GetTaskLogsResponse

from agenthost.agent import AgentBase, implements
from agenthost.connection import (
    EMPTY_CONNECTION,
    Connection,
    current_connection,
    reset_current_connection,
    set_current_connection,
)
from agenthost.errors import AgentHostError, UnsupportedOperationError, summarize
from agenthost.secrets import current_secret_values, mask_values
from agenthost.signatures import accepted_keywords, declares
from agenthost.threads import current_thread_slots, run_in_share

if TYPE_CHECKING:
    from collections.abc import Callable

    from agenthost.core.agents import AgentEntry

CONNECTION = "connection"
"""The keyword that carries a call's per-task credentials, passed only to methods that name
it (``**kwargs`` alone never receives it; see ``agenthost.connection``)."""


class Contract(NamedTuple):
    """How the host calls one agent method: its positional arguments, then the keywords it
    passes if the method accepts them (``connection`` last, when offered)."""

    positional: tuple[str, ...]
    keywords: tuple[str, ...]


_TASK = ("inputs", "output_prefix", "task_execution_metadata", CONNECTION)

CALL_CONTRACT: dict[str, Contract] = {
    "create": Contract(("task_template",), _TASK),
    "get": Contract(("resource_meta",), ("output_prefix", CONNECTION)),
    "delete": Contract(("resource_meta",), (CONNECTION,)),
    "do": Contract(("task_template",), _TASK),
    "get_metrics": Contract(
        ("resource_meta",), ("queries", "start_time", "end_time", "step", CONNECTION)
    ),
    "get_logs": Contract(("resource_meta",), ("lines", "token", CONNECTION)),
    "poke": Contract((), ()),
}
"""Every agent method the host calls. The dispatcher passes the values of ``keywords`` (but
``connection``) in this order."""

AGENT_METHODS = ("create", "get", "delete", "do", "get_metrics", "get_logs")
"""The methods the dispatcher calls (``poke`` is the sensor base class's business)."""

OPERATIONS = {
    "create": "create",
    "get": "get",
    "delete": "delete",
    "do": "do",
    "get_metrics": "get metrics",
    "get_logs": "get logs",
}
"""How each method is named in messages and logs (``agent X failed to get metrics``)."""


class AgentCallError(AgentHostError):
    """Agent code raised an exception that is not an ``agenthost.errors`` type.

    ``str()`` is the one-line summary sent to clients (``agent X failed to create: ValueError:
    ...``); ``__cause__`` is the original exception, for the server log only.
    """

    def __init__(self, agent: str, operation: str, error: BaseException) -> None:
        self.agent = agent
        self.operation = operation
        self.error = error
        super().__init__(f"agent {agent} failed to {operation}: {summarize(error)}")

    def summary(self, scrub: Callable[[str], str]) -> str:
        """``str()``, from the error's message with ``scrub`` applied before it is cut to one
        bounded line (so no part of a secret it holds survives the cut)."""
        return (
            f"agent {self.agent} failed to {self.operation}: {summarize(self.error, scrub=scrub)}"
        )


class NotImplementedByAgentError(UnsupportedOperationError):
    """The agent does not implement an optional operation (metrics, logs). Maps to
    ``UNIMPLEMENTED``."""


class WrongAgentKindError(UnsupportedOperationError):
    """A sync-only operation on an async agent (``ExecuteTaskSync``). Maps to
    ``FAILED_PRECONDITION``."""


@dataclass(frozen=True)
class Method:
    """One agent method, inspected once: how to call it and which contract keywords it takes
    (``picks``: name and position in the contract's values, for each keyword it accepts)."""

    fn: Callable[..., Any]
    operation: str
    is_async: bool
    picks: tuple[tuple[str, int], ...]
    is_async_generator: bool = False
    takes_connection: bool = False

    @classmethod
    def of(cls, agent: AgentBase, name: str) -> Method | None:
        """``agent``'s method ``name`` (one of ``AGENT_METHODS``), None if not implemented."""
        if not implements(agent, name):
            return None
        fn = getattr(agent, name)
        accepted = accepted_keywords(fn)
        offered = [k for k in CALL_CONTRACT[name].keywords if k != CONNECTION]
        return cls(
            fn,
            OPERATIONS[name],
            inspect.iscoroutinefunction(fn),
            tuple((k, i) for i, k in enumerate(offered) if accepted is None or k in accepted),
            inspect.isasyncgenfunction(fn),
            declares(fn, CONNECTION),
        )


async def call(
    entry: AgentEntry,
    method: Method,
    args: Sequence[Any],
    values: Sequence[Any],
    connection: Connection | None = None,
    *,
    holding_slot: bool = False,
) -> Any:
    """Call ``method`` of ``entry`` with ``args`` and the contract keywords it accepts
    (``values`` in contract order), within the agent's concurrency limit and thread share,
    with ``connection`` current. ``holding_slot``: the caller holds a slot of the agent's
    concurrency limit already (a log stream, for its whole length), so none is taken here."""
    kwargs: dict[str, Any] = {}
    for name, i in method.picks:  # a loop: cheaper than a comprehension's frame before 3.12
        kwargs[name] = values[i]
    if method.takes_connection:
        kwargs[CONNECTION] = connection or EMPTY_CONNECTION
    # Already current when a protocol adapter made it so for the whole call: then what the
    # agent adds to it (call-scoped secrets) stays current until the adapter ends the call.
    connection_token = (
        None
        if connection is None or connection is current_connection()
        else set_current_connection(connection)
    )
    semaphore = None if holding_slot else entry.semaphore
    # Blocking work an async method hands to run_blocking counts against this agent.
    token = current_thread_slots.set(entry.thread_slots)
    try:
        if semaphore is None:
            if method.is_async:
                return await method.fn(*args, **kwargs)
            return await _invoke(method, args, kwargs, entry.thread_slots)
        async with semaphore:
            return await _invoke(method, args, kwargs, entry.thread_slots)
    except BaseException as exc:
        error = agent_error(entry, method.operation, exc)
        if error is None:
            raise
        raise error from exc
    finally:
        current_thread_slots.reset(token)
        if connection_token is not None:
            reset_current_connection(connection_token)


def agent_error(entry: AgentEntry, operation: str, exc: BaseException) -> AgentCallError | None:
    """The ``AgentCallError`` that ``exc``, raised by agent code, becomes; None for what
    passes through: agenthost's own errors, a generator's close and a cancellation of the
    call. ``SystemExit`` and ``KeyboardInterrupt`` fail the call, never the server; so does a
    ``CancelledError`` though the task was not cancelled (left to grpc, the call would never
    answer), where asyncio can tell (``Task.cancelling``, Python 3.11+)."""
    if isinstance(exc, (AgentHostError, GeneratorExit)):
        return None
    if isinstance(exc, asyncio.CancelledError):
        cancelling = getattr(asyncio.current_task(), "cancelling", None)
        if cancelling is None or cancelling() > 0:
            return None
    return AgentCallError(entry.name, operation, exc)


async def _invoke(
    method: Method,
    args: Sequence[Any],
    kwargs: dict[str, Any],
    thread_slots: asyncio.Semaphore | None = None,
) -> Any:
    if method.is_async:
        return await method.fn(*args, **kwargs)
    if method.is_async_generator:
        return method.fn(*args, **kwargs)
    # The thread runs in a copy of this task's context: the call's connection
    # (``current_connection``) and its log fields (``agenthost.server.logs``) go with it.
    call_in_context = functools.partial(contextvars.copy_context().run, method.fn, *args, **kwargs)
    result = await run_in_share(thread_slots, call_in_context)
    if inspect.isawaitable(result):
        return await result
    return result


async def log_items(entry: AgentEntry, produced: Any) -> AsyncGenerator[GetTaskLogsResponse, None]:
    """Every ``GetTaskLogsResponse`` in what ``get_logs`` returned (one, an iterable, an async
    iterator, closed when this generator is); a blocking iterable is advanced in the agent's
    thread share with the call's context. The caller holds the agent's concurrency slot for
    the whole stream (``Dispatcher.logs``)."""
    try:
        if isinstance(produced, GetTaskLogsResponse):
            yield _log_item(produced)
        elif hasattr(produced, "__aiter__"):
            aclose = getattr(produced, "aclose", None)
            # The agent's code runs as the stream is read, after ``call`` returned: what it
            # hands to ``run_blocking`` counts against its thread share, as in ``call``.
            slots = current_thread_slots.set(entry.thread_slots)
            try:
                async for item in produced:
                    yield _log_item(item)
            finally:
                try:
                    if aclose is not None:
                        await aclose()
                finally:
                    with contextlib.suppress(ValueError):  # closed from another context
                        current_thread_slots.reset(slots)
        elif isinstance(produced, Iterable):
            iterator = iter(produced)
            done = object()
            while True:
                step = functools.partial(contextvars.copy_context().run, next, iterator, done)
                item = await run_in_share(entry.thread_slots, step)
                if item is done:
                    break
                yield _log_item(item)
        else:
            raise TypeError(f"get_logs returned {type(produced).__name__}")
    except BaseException as exc:
        error = agent_error(entry, OPERATIONS["get_logs"], exc)
        if error is None:
            raise
        raise error from exc


def _log_item(item: Any) -> GetTaskLogsResponse:
    """A page ``get_logs`` produced, its lines with every known secret value masked: a job may
    print a credential it was given, and log pages are replies like any other."""
    if not isinstance(item, GetTaskLogsResponse):
        raise TypeError(f"get_logs produced {type(item).__name__}, not a GetTaskLogsResponse")
    if item.WhichOneof("part") == "body":
        values = current_secret_values()
        if values:
            body = item.body
            body.results[:] = [mask_values(line, values) for line in body.results]
            for line in body.structured_lines:
                line.message = mask_values(line.message, values)
    return item
