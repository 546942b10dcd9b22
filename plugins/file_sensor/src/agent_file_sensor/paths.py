"""Split a sensor path into its fsspec protocol and check it against the host's path policy:
which schemes it allows and, optionally, which local directories."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from agent_file_sensor.errors import UnsupportedPathError
from agent_file_sensor.settings import ALLOWED_SCHEMES_ENV, LOCAL_PREFIXES_ENV

LOCAL_PROTOCOLS = frozenset({"file", "local"})
"""Protocols (besides no scheme at all) that mean the host's own filesystem."""

DEFAULT_SCHEMES = frozenset({"file", "local", "s3", "s3a", "gs", "gcs"})
"""Schemes allowed without configuration: local paths, S3 and Google Cloud Storage. Anything
else (``http(s)://``, ``ftp://``, ``memory://``...) would let a task make the host send
requests where the task chooses, so an operator must allow it."""

_REJECTED_PROTOCOLS = frozenset(
    {
        "async_wrapper",
        "asyncwrapper",
        "blockcache",
        "cached",
        "data",
        "dir",
        "filecache",
        "generic",
        "libarchive",
        "reference",
        "simplecache",
        "tar",
        "zip",
    }
)
"""fsspec protocols a sensor path cannot use, even when allowed: wrappers that need options a
path cannot carry, and ``data:`` URLs, which trivially exist."""

EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}
"""Protocols whose package this distribution offers as an extra (``agent-file-sensor[s3]``)."""


@dataclass(frozen=True)
class SensorPath:
    """A validated sensor path: its fsspec ``protocol`` (lower case) and its ``url`` (with the
    scheme in lower case, as fsspec backends expect)."""

    protocol: str
    url: str

    @property
    def is_local(self) -> bool:
        """Whether the path is on the host's own filesystem."""
        return self.protocol in LOCAL_PROTOCOLS


@dataclass(frozen=True)
class PathPolicy:
    """Which sensor paths this host accepts: ``schemes`` (lower case, local ones included) and,
    if not empty, the directories ``local_prefixes`` local paths must be inside."""

    schemes: frozenset[str] = DEFAULT_SCHEMES
    local_prefixes: tuple[str, ...] = ()

    @classmethod
    def from_env(cls) -> PathPolicy:
        """The defaults widened by ``$AGENT_FILE_SENSOR_ALLOWED_SCHEMES`` and restricted by
        ``$AGENT_FILE_SENSOR_LOCAL_PREFIXES`` (read on every call, so a change needs no
        restart of the plugin)."""
        extra = _split(os.environ.get(ALLOWED_SCHEMES_ENV, ""))
        schemes = DEFAULT_SCHEMES | {s.lower().removesuffix("://") for s in extra}
        prefixes = _split(os.environ.get(LOCAL_PREFIXES_ENV, ""))
        return cls(schemes=frozenset(schemes), local_prefixes=tuple(prefixes))

    def check(self, url: str) -> SensorPath:
        """``parse_path(url)``, then the policy: ``UnsupportedPathError`` naming the scheme it
        does not allow, or the local path outside every allowed directory. Nothing but the
        local filesystem's symlinks is looked at."""
        path = parse_path(url, self.schemes)
        if path.is_local and self.local_prefixes:
            _check_local_prefix(url, path.url, self.local_prefixes)
        return path


def parse_path(url: str, schemes: Iterable[str] = DEFAULT_SCHEMES) -> SensorPath:
    """Return the path's protocol, or raise ``UnsupportedPathError`` naming the problem:
    an empty path, a chained URL (``a::b``), a scheme not in ``schemes``, or one no fsspec
    filesystem is known for."""
    from fsspec.core import split_protocol

    if not url.strip():
        raise UnsupportedPathError("file sensor input 'path' is empty")
    if "::" in url:
        raise UnsupportedPathError(
            f"file sensor path {shown_path(url)} is a chained URL ('::'), which is not supported"
        )
    protocol, rest = split_protocol(url)
    if protocol is None:
        return SensorPath("file", url)
    protocol = protocol.lower()
    scheme = shown_path(protocol + "://", 40)
    allowed = frozenset(schemes)
    if protocol not in allowed:
        raise UnsupportedPathError(
            f"file sensor path {shown_path(url, 120)} has scheme {scheme}, which this host "
            f"does not allow: use a local path or {_listed(allowed)} (operators can allow "
            f"more with ${ALLOWED_SCHEMES_ENV})"
        )
    if protocol in LOCAL_PROTOCOLS:
        return SensorPath(protocol, f"{protocol}://{rest}")
    if protocol in _REJECTED_PROTOCOLS or protocol not in _known_protocols():
        raise UnsupportedPathError(
            f"file sensor path {shown_path(url)} has unsupported scheme {scheme}: "
            "no fsspec filesystem serves it"
        )
    return SensorPath(protocol, f"{protocol}://{rest}")


def _check_local_prefix(url: str, checked: str, prefixes: tuple[str, ...]) -> None:
    """``UnsupportedPathError`` naming ``url`` unless ``checked`` (its ``SensorPath.url``, the
    scheme in lower case: the form the poke reads, since fsspec strips only a lower-case
    ``file://``/``local://`` and takes ``FILE:///etc`` for a relative path), resolved the way
    fsspec resolves it (``~``, relative parts) and then through symlinks, is inside one of
    ``prefixes``."""
    from fsspec.implementations.local import LocalFileSystem

    resolved = os.path.realpath(LocalFileSystem._strip_protocol(checked))
    for prefix in prefixes:
        root = os.path.realpath(os.path.expanduser(prefix))
        if resolved == root or resolved.startswith(root.rstrip(os.sep) + os.sep):
            return
    raise UnsupportedPathError(
        f"file sensor path {shown_path(url)} is outside the local directories this host "
        f"allows (${LOCAL_PREFIXES_ENV})"
    )


def _known_protocols() -> frozenset[str]:
    """Protocols fsspec knows by name (built in or via ``fsspec.specs`` entry points) or has
    registered classes for."""
    from fsspec.registry import known_implementations, registry

    return frozenset(known_implementations) | frozenset(registry)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _listed(schemes: frozenset[str]) -> str:
    return ", ".join(f"{s}://" for s in ["file", *sorted(schemes - LOCAL_PROTOCOLS)])


def shown_path(url: str, limit: int = 200) -> str:
    """``url`` quoted for a message, shortened to ``limit`` characters if longer."""
    text = url if len(url) <= limit else url[: limit - 1] + "…"
    return repr(text)
