"""Shared support of the OpenAI tests (this folder's ``conftest.py`` re-exports it, and the
repository's compat suite imports the fake from here): a fake OpenAI server on 127.0.0.1, the
environment pointing the agents at it, and the flytekit-serialized templates in ``data/``."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fake_openai import FakeOpenAI
from flyteidl.core.literals_pb2 import LiteralMap
from flyteidl.core.tasks_pb2 import TaskTemplate
from google.protobuf import json_format

DATA = Path(__file__).parent / "data"
API_KEY = "sk-test-0123456789abcdef"
T = TypeVar("T")


def load_template(name: str) -> TaskTemplate:
    """A flytekit-serialized TaskTemplate from ``data/<name>_template.json``."""
    return json_format.Parse((DATA / f"{name}_template.json").read_text(), TaskTemplate())


def load_inputs(name: str) -> LiteralMap:
    """A flytekit-serialized input LiteralMap from ``data/<name>_inputs.json``."""
    return json_format.Parse((DATA / f"{name}_inputs.json").read_text(), LiteralMap())


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run an agent coroutine to completion on a fresh event loop."""
    return asyncio.run(coro)


def server_env(fake_openai: FakeOpenAI, max_retries: str = "1") -> dict[str, str]:
    """The environment of an ``agenthost serve`` subprocess pointed at the fake server, with the
    deployment's key as the host secret."""
    return {
        "OPENAI_BASE_URL": fake_openai.base_url,
        "_FSEC_FLYTE_OPENAI_API_KEY": API_KEY,
        "FLYTE_SECRETS_DEFAULT_DIR": str(DATA / "no-secrets-here"),
        "AGENT_OPENAI_MAX_RETRIES": max_retries,
        "AGENT_OPENAI_TIMEOUT_SECONDS": "10",
    }


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    """A fake OpenAI-compatible server serving in a thread for the whole session."""
    server = FakeOpenAI().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def openai_env(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    """The agents' environment: the key as the host secret, the fake server as the endpoint,
    one quick retry and a short timeout."""
    for name in ("OPENAI_API_KEY", "AGENT_OPENAI_ALLOWED_BASE_URLS", "OPENAI_ORG_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLYTE_SECRETS_DEFAULT_DIR", str(DATA / "no-secrets-here"))
    monkeypatch.setenv("_FSEC_FLYTE_OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("AGENT_OPENAI_MAX_RETRIES", "1")
    monkeypatch.setenv("AGENT_OPENAI_TIMEOUT_SECONDS", "10")
    return fake_openai
