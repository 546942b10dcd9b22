"""Split a sensor path into its fsspec protocol and check that the protocol can be served."""

from __future__ import annotations

from dataclasses import dataclass

from agent_file_sensor.errors import UnsupportedPathError

LOCAL_PROTOCOLS = frozenset({"file", "local"})
"""Protocols (besides no scheme at all) that mean the host's own filesystem."""

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
"""fsspec protocols a sensor path cannot use: wrappers that need options a path cannot carry,
and ``data:`` URLs, which trivially exist."""

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


def parse_path(url: str) -> SensorPath:
    """Return the path's protocol, or raise ``UnsupportedPathError`` naming the problem:
    an empty path, a chained URL (``a::b``), or a scheme no fsspec filesystem is known for."""
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
    if protocol in LOCAL_PROTOCOLS:
        return SensorPath(protocol, f"{protocol}://{rest}")
    if protocol in _REJECTED_PROTOCOLS or protocol not in _known_protocols():
        scheme = shown_path(protocol + "://", 40)
        raise UnsupportedPathError(
            f"file sensor path {shown_path(url)} has unsupported scheme {scheme}: "
            "use a local path, file://, s3://, gs:// or another fsspec protocol"
        )
    return SensorPath(protocol, f"{protocol}://{rest}")


def _known_protocols() -> frozenset[str]:
    """Protocols fsspec knows by name (built in or via ``fsspec.specs`` entry points) or has
    registered classes for."""
    from fsspec.registry import known_implementations, registry

    return frozenset(known_implementations) | frozenset(registry)


def shown_path(url: str, limit: int = 200) -> str:
    """``url`` quoted for a message, shortened to ``limit`` characters if longer."""
    text = url if len(url) <= limit else url[: limit - 1] + "…"
    return repr(text)
