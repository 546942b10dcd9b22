"""End-to-end tests run against the built wheels installed into a fresh environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    """The folder of wheels the e2e session built (``AGENTHOST_WHEELHOUSE``)."""
    path = os.environ.get("AGENTHOST_WHEELHOUSE")
    if not path:
        pytest.skip("AGENTHOST_WHEELHOUSE is not set (run through `nox -s e2e`)")
    return Path(path)
