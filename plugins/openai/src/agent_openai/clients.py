"""Shared ``AsyncOpenAI`` clients, one per (event loop, organization, endpoint, key, limits),
keyed by a fingerprint of the key (``ClientSettings.cache_key``), never by the key. At most
``MAX_CLIENTS`` per loop (per-task keys on Flyte 2 would otherwise grow it without bound): the
least recently used is dropped, not closed, since a running call may still hold it.

The ``openai`` package is imported on first use, in a worker thread, so neither the host's start
nor its event loop pays for the import.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
import weakref
from collections import OrderedDict
from types import ModuleType
from typing import TYPE_CHECKING, Any

from agent_openai.settings import ClientSettings

if TYPE_CHECKING:
    from openai import AsyncOpenAI

_module: ModuleType | None = None
_import_lock = threading.Lock()
# Clients hold connection pools bound to the loop they were first used on.
_clients: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, OrderedDict[tuple[Any, ...], AsyncOpenAI]
]
_clients = weakref.WeakKeyDictionary()
MAX_CLIENTS = 32
"""Clients kept per event loop."""


def _import_openai() -> ModuleType:
    global _module
    with _import_lock:
        if _module is None:
            _module = importlib.import_module("openai")
        return _module


async def openai_module() -> ModuleType:
    """The ``openai`` module, imported off the event loop the first time."""
    if _module is not None:
        return _module
    return await asyncio.to_thread(_import_openai)


async def client_for(settings: ClientSettings) -> AsyncOpenAI:
    """The shared ``AsyncOpenAI`` client for ``settings`` on the running event loop."""
    openai = await openai_module()
    per_loop = _clients.setdefault(asyncio.get_running_loop(), OrderedDict())
    client = per_loop.get(settings.cache_key)
    if client is not None:
        per_loop.move_to_end(settings.cache_key)
    else:
        client = openai.AsyncOpenAI(
            api_key=settings.api_key,
            organization=settings.organization,
            base_url=settings.base_url,
            timeout=openai.Timeout(settings.timeout, connect=settings.connect_timeout),
            max_retries=settings.max_retries,
        )
        per_loop[settings.cache_key] = client
        while len(per_loop) > MAX_CLIENTS:
            per_loop.popitem(last=False)
    return client
