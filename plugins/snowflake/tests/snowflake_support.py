"""Shared fixtures of the Snowflake tests (this folder's ``conftest.py`` and the repository's
compat suite import them from here): the fakesnow-based fake and the deployment's key pair."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from snowflake_fake import FakeSnowflake, KeyPairFiles, make_key_pair, running_fakesnow


@pytest.fixture(scope="session")
def fakesnow() -> Iterator[FakeSnowflake]:
    """fakesnow's server mode (plus scripted statuses, cancel and key checks) on 127.0.0.1."""
    with running_fakesnow() as fake:
        yield fake


@pytest.fixture(scope="session")
def key_pair() -> KeyPairFiles:
    """The key pair of the deployment (the host secret ``snowflake_private_key``)."""
    return make_key_pair()
