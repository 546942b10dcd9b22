"""Value classes for the literal kinds that have no natural Python value: files and datasets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

__all__ = ["Blob", "BlobSpec", "Directory", "StructuredDataset"]


@dataclass(frozen=True, slots=True)
class StructuredDataset:
    """A reference to a tabular dataset (Flyte ``StructuredDataset`` literal).

    ``uri`` is where the data lives (``s3://...``, ``bq://...``); ``file_format`` is the storage
    format (``"parquet"``, ``"csv"``). The empty string means "generic", as in flytekit: when the
    declared type names a format, that format is written to the literal; otherwise this one is.
    """

    uri: str
    file_format: str = ""


@dataclass(frozen=True, slots=True)
class Blob:
    """A reference to a file or directory (Flyte ``Blob`` literal; flytekit's FlyteFile/Directory).

    ``uri`` is the remote location, ``format`` the blob format (``""`` means any, e.g. ``"csv"``),
    and ``multipart`` is True for a directory (``MULTIPART`` dimensionality), False for one file.
    """

    uri: str
    format: str = ""
    multipart: bool = False


@dataclass(frozen=True, slots=True)
class BlobSpec:
    """Annotation metadata declaring a :class:`Blob` annotation's blob type.

    ``Annotated[Blob, BlobSpec(format="csv")]`` declares csv files,
    ``Annotated[Blob, BlobSpec(multipart=True)]`` declares directories (see :data:`Directory`).
    """

    format: str = ""
    multipart: bool = False


Directory = Annotated[Blob, BlobSpec(multipart=True)]
"""Type annotation of a directory: a :class:`Blob` with ``MULTIPART`` dimensionality."""
