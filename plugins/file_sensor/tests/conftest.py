"""Fixtures: a moto S3 server for the session, the AWS environment pointed at it, and
unique bucket names."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from file_sensor_support import (
    GcsEmulator,
    MotoServer,
    start_gcs_emulator,
    start_moto,
    stop,
)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """A moto S3 server shared by the session's tests (each test uses its own bucket)."""
    server = start_moto()
    try:
        yield server
    finally:
        stop(server.process)


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[GcsEmulator]:
    """A gcp-storage-emulator shared by the session's tests (each test uses its own bucket)."""
    emulator = start_gcs_emulator()
    try:
        yield emulator
    finally:
        stop(emulator.process)


@pytest.fixture
def s3_env(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """The current process's AWS environment pointed at the moto server."""
    for name in [n for n in os.environ if n.startswith(("AWS_", "_FSEC_"))]:
        monkeypatch.delenv(name)
    for name, value in moto_server.env.items():
        monkeypatch.setenv(name, value)
    return moto_server


_bucket_counter = iter(range(10**6))


@pytest.fixture
def bucket_name() -> str:
    """A bucket name no other test in this session uses."""
    return f"sensor-test-{os.getpid()}-{next(_bucket_counter)}"
