"""Credentials (emulator, service-account secret, ADC) and the client cache, with the real
client library (no network: constructing a client does not call BigQuery)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from agent_bigquery.clients import ClientCache
from agent_bigquery.errors import BigQueryConfigurationError
from agent_bigquery.settings import credential_source

SECRET_ENV = "_FSEC_BIGQUERY_SERVICE_ACCOUNT_JSON"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No emulator, no secret, ADC pointing at a missing file, never the metadata server."""
    monkeypatch.delenv("BIGQUERY_EMULATOR_HOST", raising=False)
    monkeypatch.delenv(SECRET_ENV, raising=False)
    monkeypatch.setenv("FLYTE_SECRETS_DEFAULT_DIR", str(tmp_path / "secrets"))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-such-key.json"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")


def service_account_json(email: str = "agent@proj.iam.gserviceaccount.com") -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "proj",
            "private_key_id": "k1",
            "private_key": pem,
            "client_email": email,
            "client_id": "1",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )


@pytest.mark.parametrize(
    ("value", "endpoint"),
    [
        ("127.0.0.1:9050", "http://127.0.0.1:9050"),
        ("http://127.0.0.1:9050/", "http://127.0.0.1:9050"),
    ],
)
def test_emulator_host_wins(monkeypatch: pytest.MonkeyPatch, value: str, endpoint: str) -> None:
    monkeypatch.setenv(SECRET_ENV, "{}")
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", value)
    source = credential_source()
    assert (source.kind, source.endpoint) == ("emulator", endpoint)


def test_emulator_clients_are_anonymous(monkeypatch: pytest.MonkeyPatch) -> None:
    from google.auth.credentials import AnonymousCredentials

    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "127.0.0.1:9050")
    client = ClientCache().get("proj", "US")
    assert isinstance(client._credentials, AnonymousCredentials)
    assert client._connection.API_BASE_URL == "http://127.0.0.1:9050"
    assert (client.project, client.location) == ("proj", "US")


def test_service_account_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "bigquery_service_account_json").write_text(service_account_json())
    source = credential_source()
    assert source.kind == "service_account"
    assert "private_key" not in repr(source)
    client = ClientCache().get("proj", None)
    assert client._credentials.service_account_email == "agent@proj.iam.gserviceaccount.com"
    assert "https://www.googleapis.com/auth/bigquery" in client._credentials.scopes


def test_invalid_secret_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, '{"type": "service_account", "hush": "s3cr3t-value"}')
    with pytest.raises(BigQueryConfigurationError, match="BIGQUERY_SERVICE_ACCOUNT_JSON") as raised:
        ClientCache().get("proj", "US")
    assert "s3cr3t" not in str(raised.value)


def test_missing_application_default_credentials() -> None:
    assert credential_source().kind == "adc"
    with pytest.raises(BigQueryConfigurationError, match="no Google credentials") as raised:
        ClientCache().get("proj", "US")
    assert "no-such-key" not in str(raised.value)


def test_clients_are_cached_per_project_location_and_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "127.0.0.1:9050")
    cache = ClientCache()
    first = cache.get("proj", "US")
    assert cache.get("proj", "US") is first
    assert cache.get("proj", "EU") is not first
    assert cache.get("other", "US") is not first
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "127.0.0.1:9051")
    assert cache.get("proj", "US") is not first
    assert len(cache) == 4


def test_rotated_secret_gets_a_new_client(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = ClientCache()
    monkeypatch.setenv(SECRET_ENV, service_account_json("a@proj.iam.gserviceaccount.com"))
    first = cache.get("proj", "US")
    monkeypatch.setenv(SECRET_ENV, service_account_json("b@proj.iam.gserviceaccount.com"))
    second = cache.get("proj", "US")
    assert second is not first
    assert second._credentials.service_account_email == "b@proj.iam.gserviceaccount.com"


def test_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "127.0.0.1:9050")
    cache = ClientCache(max_size=2)
    oldest = cache.get("p1", "US")
    cache.get("p2", "US")
    cache.get("p3", "US")
    assert len(cache) == 2
    assert cache.get("p1", "US") is not oldest


def test_clients_resolve_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Proxies and the CA bundle from the environment apply as requests would apply them per
    request, read once when the client is built (requests would re-read them every call)."""
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "http://127.0.0.1:9050")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/corp.pem")
    client = ClientCache().get("proj", "US")
    session = client._http
    assert session.trust_env is False
    assert session.proxies["http"] == "http://proxy.internal:3128"
    assert session.verify == "/etc/ssl/certs/corp.pem"
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    bypassed = ClientCache().get("proj", "US")._http
    assert "http" not in bypassed.proxies and bypassed.trust_env is False


def test_connection_credentials_win_over_the_deployment_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agenthost import Connection
    from agenthost.connection import using_connection

    monkeypatch.setenv(SECRET_ENV, service_account_json("deployment@proj.iam.gserviceaccount.com"))
    per_task = service_account_json("task@proj.iam.gserviceaccount.com")
    cache = ClientCache()
    with using_connection(Connection(secrets={"google_application_credentials": per_task})):
        source = credential_source()
        client = cache.get("proj", "US")
    assert source.kind == "service_account"
    assert "private_key" not in repr(source) and per_task not in source.key
    assert client._credentials.service_account_email == "task@proj.iam.gserviceaccount.com"
    deployment = cache.get("proj", "US")
    assert deployment._credentials.service_account_email == (
        "deployment@proj.iam.gserviceaccount.com"
    )
    assert len(cache) == 2


def test_invalid_connection_credentials_name_the_connection_key() -> None:
    from agenthost import Connection
    from agenthost.connection import using_connection

    bad = '{"type": "service_account", "hush": "s3cr3t-conn-value"}'
    with (
        using_connection(Connection(secrets={"google_application_credentials": bad})),
        pytest.raises(BigQueryConfigurationError, match="google_application_credentials") as raised,
    ):
        ClientCache().get("proj", "US")
    assert "s3cr3t" not in str(raised.value)
