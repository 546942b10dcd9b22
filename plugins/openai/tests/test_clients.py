"""Client reuse, lazy import of ``openai`` and the plugin's registration."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from openai_support import API_KEY

from agent_openai.clients import client_for
from agent_openai.settings import ClientSettings, client_settings
from agenthost import MisconfiguredError


def settings(organization: str | None = "org-a", key: str = API_KEY) -> ClientSettings:
    return ClientSettings(key, organization, "http://127.0.0.1:1/v1", 5.0, 0)


def test_clients_are_shared_per_organization_endpoint_and_key() -> None:
    async def clients() -> list[object]:
        return [
            await client_for(settings()),
            await client_for(settings()),
            await client_for(settings("org-b")),
            await client_for(settings(key="sk-other-key")),
        ]

    first, again, other_org, other_key = asyncio.run(clients())
    assert first is again
    assert len({id(first), id(other_org), id(other_key)}) == 3


def test_settings_repr_hides_the_key() -> None:
    assert API_KEY not in repr(settings())


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_FSEC_FLYTE_OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1/")
    monkeypatch.setenv("AGENT_OPENAI_TIMEOUT_SECONDS", "7.5")
    monkeypatch.setenv("AGENT_OPENAI_MAX_RETRIES", "4")
    resolved = client_settings("org-a")
    assert resolved == ClientSettings(API_KEY, "org-a", "http://127.0.0.1:1/v1", 7.5, 4)

    monkeypatch.delenv("AGENT_OPENAI_TIMEOUT_SECONDS")
    monkeypatch.delenv("AGENT_OPENAI_MAX_RETRIES")
    assert client_settings(None).timeout == 120.0
    assert client_settings(None).max_retries == 2

    monkeypatch.setenv("AGENT_OPENAI_TIMEOUT_SECONDS", "soon")
    with pytest.raises(MisconfiguredError, match="AGENT_OPENAI_TIMEOUT_SECONDS"):
        client_settings(None)


def test_importing_the_plugin_does_not_import_openai() -> None:
    code = (
        "import sys, agent_openai.plugin\n"
        "assert 'openai' not in sys.modules, 'openai imported'\n"
        "assert 'httpx2' not in sys.modules, 'http client imported'\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_plugin_registers_both_agents_through_the_loader() -> None:
    from agenthost.plugins import load_plugins

    result = load_plugins(allow=["openai"], strict=True)
    [report] = [p for p in result.plugins if p.name == "openai"]
    assert report.status == "loaded"
    served = {(a.task_type_name, a.is_sync) for a in result.agents}
    assert ("chatgpt", True) in served
    assert ("openai-batch", False) in served


def test_plugin_declares_its_api_range() -> None:
    import agent_openai.plugin

    assert agent_openai.plugin.AGENTHOST_PLUGIN_API == ">=1.1,<2"


def test_clients_are_keyed_by_a_fingerprint_of_the_key_and_bounded() -> None:
    from agent_openai import clients

    async def fill() -> list[tuple[object, ...]]:
        first = await client_for(settings(key="sk-bounded-0000"))
        for n in range(1, clients.MAX_CLIENTS + 1):
            await client_for(settings(key=f"sk-bounded-{n:04d}"))
        assert await client_for(settings(key="sk-bounded-0000")) is not first  # evicted
        return list(clients._clients[asyncio.get_running_loop()])

    keys = asyncio.run(fill())
    assert len(keys) == clients.MAX_CLIENTS
    assert not any("sk-bounded" in str(part) for key in keys for part in key)


def test_a_connection_key_that_cannot_be_a_header_is_an_invalid_request() -> None:
    from agent_openai.settings import api_key
    from agenthost import Connection, InvalidRequestError
    from agenthost.connection import using_connection

    with (
        using_connection(Connection(secrets={"openai_api_key": "sk-conn\r\nX-Evil: 1"})),
        pytest.raises(InvalidRequestError, match="connection secret openai_api_key") as raised,
    ):
        api_key()
    assert "X-Evil" not in str(raised.value)
