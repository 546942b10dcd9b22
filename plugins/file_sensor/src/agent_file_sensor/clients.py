"""fsspec filesystems for sensor paths: one instance per protocol and options, reused across
pokes; async backends are awaited on the event loop, sync ones run in the default executor.

Backend packages (s3fs, gcsfs, ...) are imported on first use of their protocol, in the
executor, so neither importing this plugin nor the first poke blocks the event loop. One
check of a path is bounded by ``$AGENT_FILE_SENSOR_POKE_TIMEOUT_SECONDS``, whatever the
backend's own retries would take.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import importlib.util
import inspect
import json
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agent_file_sensor.errors import BackendNotInstalledError, UnsupportedPathError
from agent_file_sensor.paths import EXTRAS, LOCAL_PROTOCOLS, SensorPath
from agent_file_sensor.settings import poke_timeout, storage_options
from agenthost import BackendUnavailableError

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

MAX_CACHED_FILESYSTEMS = 32
"""Filesystems kept per event loop."""


def cache_key(protocol: str, options: dict[str, Any]) -> str:
    """The cache key of a filesystem: the protocol and a fingerprint of its options (which may
    hold credentials), never the options themselves."""
    encoded = json.dumps(options, sort_keys=True, default=str).encode("utf-8")
    return f"{protocol}:{hashlib.sha256(encoded).hexdigest()[:16]}"


def _not_installed(protocol: str) -> BackendNotInstalledError:
    from fsspec.registry import known_implementations

    implementation = known_implementations.get(protocol, {}).get("class", "")
    package = implementation.split(".", 1)[0] or "its fsspec backend"
    extra = EXTRAS.get(protocol)
    hint = f"pip install 'agent-file-sensor[{extra}]'" if extra else f"pip install {package}"
    return BackendNotInstalledError(
        f"{protocol}:// paths need the {package} package, which is not installed "
        f"on the agent host ({hint})"
    )


def check_backend_installed(protocol: str) -> None:
    """``BackendNotInstalledError`` if the package serving ``protocol`` is missing; looks the
    package up without importing it."""
    from fsspec.registry import known_implementations, registry

    if protocol in LOCAL_PROTOCOLS or protocol in registry:
        return
    implementation = known_implementations.get(protocol, {}).get("class", "")
    package = implementation.split(".", 1)[0]
    if package and importlib.util.find_spec(package) is None:
        raise _not_installed(protocol)


def filesystem_class(protocol: str) -> type[AbstractFileSystem]:
    """The fsspec class serving ``protocol`` (importing its backend package), or
    ``BackendNotInstalledError`` saying what to install."""
    import fsspec

    try:
        cls: type[AbstractFileSystem] = fsspec.get_filesystem_class(protocol)
    except ImportError:
        raise _not_installed(protocol) from None
    return cls


class FilesystemCache:
    """Filesystem instances keyed by event loop, protocol and a fingerprint of the options.

    Async-capable backends are created with ``asynchronous=True`` and belong to the loop that
    first used them (their HTTP sessions are bound to it), hence the per-loop cache. At most
    ``max_size`` per loop (per-task credentials on Flyte 2 would otherwise grow it without
    bound): the least recently used is dropped, not closed, since a poke may still hold it.
    """

    def __init__(
        self,
        options_for: Callable[[str], dict[str, Any]] = storage_options,
        max_size: int = MAX_CACHED_FILESYSTEMS,
    ) -> None:
        self._options_for = options_for
        self._max_size = max_size
        self._by_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, OrderedDict[str, asyncio.Future[AbstractFileSystem]]
        ] = weakref.WeakKeyDictionary()

    async def filesystem(self, protocol: str, url: str = "") -> AbstractFileSystem:
        """The (cached) filesystem for ``protocol`` and the options ``url`` itself carries (an
        FTP host, say); the first call per loop, protocol and options builds it in the
        executor."""
        loop = asyncio.get_running_loop()
        call = contextvars.copy_context()  # the options depend on the call's connection
        options = await loop.run_in_executor(None, call.run, self._all_options, protocol, url)
        key = cache_key(protocol, options)
        cache = self._by_loop.setdefault(loop, OrderedDict())
        future = cache.get(key)
        if future is None or (
            future.done() and (future.cancelled() or future.exception() is not None)
        ):
            future = loop.run_in_executor(None, _build_filesystem, protocol, options)
            cache[key] = future
            while len(cache) > self._max_size:
                cache.popitem(last=False)
        cache.move_to_end(key)
        return await asyncio.shield(future)

    def _all_options(self, protocol: str, url: str) -> dict[str, Any]:
        options = self._options_for(protocol)
        if url and protocol not in LOCAL_PROTOCOLS:
            options = {**filesystem_class(protocol)._get_kwargs_from_urls(url), **options}
        return options

    async def exists(self, path: SensorPath, timeout: float | None = None) -> bool:
        """Whether ``path`` exists, asking its backend afresh (listing caches are dropped).
        ``BackendUnavailableError`` if the answer takes longer than ``timeout`` seconds
        (default: ``poke_timeout()``)."""
        limit = poke_timeout() if timeout is None else timeout
        # asyncio.wait, not wait_for: a TimeoutError the backend raises itself stays its own,
        # however close to the limit it comes (loops' timers may fire a little early by
        # time.monotonic(), uvloop's by up to a millisecond).
        answer = asyncio.ensure_future(self._exists(path))
        try:
            done, _ = await asyncio.wait((answer,), timeout=limit)
        finally:
            if not answer.done():
                answer.cancel()  # not awaited: a backend that ignores it must not hold us
                answer.add_done_callback(_retrieve)
        if not done:
            raise BackendUnavailableError(
                f"{path.protocol}:// storage did not answer within {limit:g} s"
            )
        return answer.result()

    async def _exists(self, path: SensorPath) -> bool:
        fs = await self.filesystem(path.protocol, path.url)
        fs.invalidate_cache(path.url)
        if getattr(fs, "async_impl", False) and getattr(fs, "asynchronous", False):
            return bool(await fs._exists(path.url))
        loop = asyncio.get_running_loop()
        return bool(await loop.run_in_executor(None, fs.exists, path.url))

    async def aclose(self) -> None:
        """Close the HTTP sessions of this loop's async filesystems and forget them all."""
        cache = self._by_loop.pop(asyncio.get_running_loop(), OrderedDict())
        for future in cache.values():
            if future.done() and not future.cancelled() and future.exception() is None:
                await _close_sessions(future.result())


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark what an abandoned backend call ended with as seen (asyncio would log it)."""
    if not future.cancelled():
        future.exception()


async def _close_sessions(fs: AbstractFileSystem) -> None:
    """Close what async backends keep open: s3fs's aiobotocore client (``_s3``), gcsfs's and
    HTTPFileSystem's aiohttp session (``_session``)."""
    client = getattr(fs, "_s3", None)
    if client is not None and hasattr(client, "__aexit__"):
        with contextlib.suppress(Exception):
            await client.__aexit__(None, None, None)
        fs._s3 = None
    session = getattr(fs, "_session", None)
    close = getattr(session, "close", None)
    if inspect.iscoroutinefunction(close) and not getattr(session, "closed", True):
        with contextlib.suppress(Exception):
            await close()


def _build_filesystem(protocol: str, options: dict[str, Any]) -> AbstractFileSystem:
    cls = filesystem_class("file" if protocol in LOCAL_PROTOCOLS else protocol)
    kwargs = dict(options, skip_instance_cache=True)
    if getattr(cls, "async_impl", False):
        kwargs["asynchronous"] = True
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a backend that needs options neither the path nor we give
        raise UnsupportedPathError(
            f"{protocol}:// paths cannot be checked by the file sensor: {cls.__name__} needs "
            f"options a path cannot carry ({exc})"
        ) from None
