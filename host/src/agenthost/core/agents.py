"""The agents a host serves, inspected once, and the one way to find the agent for a task type.

A task type is a name and a version. ``AgentIndex.resolve(name, version)`` finds the agent
registered for exactly that pair; ``resolve(name)`` (no version: a request that only sets the
deprecated ``task_type`` string, as older propellers do) finds the agent for (name, 0) if there
is one, else the lowest version registered under that name. Both live in one dictionary, so
every lookup is one ``dict.get``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from types import CodeType
from typing import Any, Protocol

from agenthost.agent import AgentBase, AsyncAgentBase
from agenthost.core.calls import AGENT_METHODS, Method
from agenthost.errors import AgentHostError, InvalidRequestError, UnknownTaskTypeError

Key = tuple[str, "int | None"]
"""A task type as the index keys it: (name, version), version None for "the default one"."""


class CategoryLike(Protocol):
    """A task category as requests carry it (any object with ``name`` and ``version``)."""

    @property
    def name(self) -> str:
        """The task type."""

    @property
    def version(self) -> int:
        """The task type version."""


class AgentEntry:
    """An agent and its inspected methods, built once when the index is created.

    ``concurrency`` limits concurrent calls into the agent, ``threads`` the pool threads its
    blocking calls occupy (None: unlimited)."""

    def __init__(
        self, agent: AgentBase, concurrency: int | None = None, threads: int | None = None
    ) -> None:
        self.agent = agent
        self.name = agent.name
        self.category = agent.task_category
        self.is_sync = bool(agent.is_sync)
        self.methods: dict[str, Method | None] = {m: Method.of(agent, m) for m in AGENT_METHODS}
        self.decode_meta: Callable[[bytes], Any] | None = (
            agent.metadata_type.decode if isinstance(agent, AsyncAgentBase) else None
        )
        """How this agent's ``resource_meta`` bytes decode (None: a sync agent has none)."""
        limit = getattr(getattr(agent, "metadata_type", None), "max_encoded_bytes", None)
        self.max_meta_bytes: int | None = limit if isinstance(limit, int) else None
        """The largest ``resource_meta`` its ``GetTask`` decodes (None: no limit is known)."""
        # asyncio primitives bind to the running loop on first use, not here.
        self.semaphore = asyncio.Semaphore(concurrency) if concurrency is not None else None
        """The per-agent concurrency limit (None: unlimited)."""
        self.thread_slots = asyncio.Semaphore(threads) if threads is not None else None
        """The limit on pool threads this agent's blocking calls occupy (None: unlimited)."""


class AgentIndex:
    """Every served agent, by task type and by name."""

    def __init__(
        self,
        agents: Iterable[AgentBase],
        concurrency: int | None = None,
        threads: int | None = None,
    ) -> None:
        self.entries = [AgentEntry(a, concurrency, threads) for a in agents]
        self.by_key: dict[Key, AgentEntry] = {}
        """(name, version) and (name, None) to agent; see the module docstring."""
        self._by_name: dict[str, AgentEntry] = {}
        for entry in sorted(self.entries, key=lambda e: e.category.version, reverse=True):
            name = entry.category.name
            self.by_key.setdefault((name, entry.category.version), entry)
            # Highest version first, so version 0 (or the lowest) is left in place.
            self.by_key[(name, None)] = entry
            self._by_name.setdefault(entry.name, entry)

    def resolve(self, name: str, version: int | None = None) -> AgentEntry:
        """The agent for task type ``name`` at ``version`` (None: the default version);
        ``UnknownTaskTypeError`` if none serves it."""
        entry = self.by_key.get((name, version))
        if entry is None:
            raise self.unknown(name, version)
        return entry

    def unknown(self, name: str, version: int | None) -> AgentHostError:
        """The error for a task type no agent serves (or a request naming none)."""
        if not name:
            return InvalidRequestError("request names no task type (task_category is unset)")
        if version is None:
            return UnknownTaskTypeError(f"no agent serves task type {name!r}")
        versions = sorted(v for n, v in self.by_key if n == name and v is not None)
        served = f" (served versions: {', '.join(map(str, versions))})" if versions else ""
        return UnknownTaskTypeError(f"no agent serves task type {name!r} version {version}{served}")

    def named(self, name: str) -> AgentEntry:
        """The agent named ``name``; ``UnknownTaskTypeError`` if none."""
        entry = self._by_name.get(name)
        if entry is None:
            raise UnknownTaskTypeError(f"no agent named {name!r}")
        return entry

    def call_sites(self) -> dict[CodeType, dict[int, str]]:
        """The code of every agent method the host calls, to ``{id(agent): "<agent>
        <operation>"}`` (one code may serve several agents: a shared base-class method). Lets
        a stack sampler name the agent call it finds, at no cost to the calls."""
        sites: dict[CodeType, dict[int, str]] = {}
        for entry in self.entries:
            for method in entry.methods.values():
                code = _code_of(method.fn) if method is not None else None
                if code is not None:
                    label = f"{entry.name} {method.operation}"  # type: ignore[union-attr]
                    sites.setdefault(code, {})[id(entry.agent)] = label
        return sites


def _code_of(fn: Callable[..., Any]) -> CodeType | None:
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    return code if isinstance(code, CodeType) else None
