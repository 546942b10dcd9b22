"""Errors the file sensor raises; each message is short and never holds a secret."""

from __future__ import annotations

from agenthost import InvalidRequestError, MisconfiguredError


class UnsupportedPathError(InvalidRequestError):
    """The path is empty, chained, names a scheme the host does not allow or no fsspec
    filesystem serves, or is outside the allowed local directories (answered with gRPC
    INVALID_ARGUMENT at CreateTask, and at GetTask for a forged ``resource_meta``)."""


class BackendNotInstalledError(MisconfiguredError):
    """The scheme is allowed but its package (e.g. s3fs for ``s3://``) is not installed where
    the host runs (answered with gRPC FAILED_PRECONDITION)."""
