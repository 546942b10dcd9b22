"""Unit tests: path parsing, error classification and backend lookup messages."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from aiohttp import ServerDisconnectedError
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from agent_file_sensor import BackendNotInstalledError, FileSensor, PathPolicy, UnsupportedPathError
from agent_file_sensor.clients import filesystem_class
from agent_file_sensor.failures import is_transient_error
from agent_file_sensor.paths import DEFAULT_SCHEMES, parse_path
from agent_file_sensor.settings import storage_options


@pytest.mark.parametrize(
    ("path", "protocol", "url"),
    [
        ("/data/in/file.csv", "file", "/data/in/file.csv"),
        ("relative/file", "file", "relative/file"),
        ("file:///data/x", "file", "file:///data/x"),
        ("s3://bucket/key", "s3", "s3://bucket/key"),
        ("S3://bucket/Key", "s3", "s3://bucket/Key"),
        ("gs://bucket/key", "gs", "gs://bucket/key"),
        ("memory://x/y", "memory", "memory://x/y"),
    ],
)
def test_parse_path(path: str, protocol: str, url: str) -> None:
    parsed = parse_path(path, DEFAULT_SCHEMES | {"memory"})
    assert (parsed.protocol, parsed.url) == (protocol, url)
    assert parsed.is_local is (protocol == "file")


@pytest.mark.parametrize("path", ["", "ftp2://x", "data:text/plain,hi", "reference://x"])
def test_parse_path_rejects(path: str) -> None:
    with pytest.raises(UnsupportedPathError):
        parse_path(path)


def _client_error(code: str, status: int) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": code},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "HeadObject")  # type: ignore[arg-type]


def _translated(cause: BaseException, error: OSError) -> OSError:
    """``error`` raised from ``cause``, the way s3fs translates botocore errors."""
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
        TimeoutError("timed out"),
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
        ReadTimeoutError(endpoint_url="http://127.0.0.1:1"),
        ServerDisconnectedError(),
        _client_error("SlowDown", 503),
        _client_error("Throttling", 400),
        _translated(_client_error("InternalError", 500), OSError(errno.EIO, "internal")),
        OSError(errno.EBUSY, "SlowDown"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_transient_errors(error: BaseException) -> None:
    assert is_transient_error(error)
    assert FileSensor().is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        PermissionError("Access Denied"),
        _translated(_client_error("AccessDenied", 403), PermissionError("Access Denied")),
        BackendNotInstalledError("s3:// paths need the s3fs package"),
        ValueError("bad"),
        OSError(errno.EINVAL, "invalid"),
        _client_error("NoSuchBucket", 404),
    ],
    ids=lambda e: type(e).__name__,
)
def test_permanent_errors(error: BaseException) -> None:
    assert not is_transient_error(error)


def test_missing_s3_backend_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import fsspec

    def not_installed(protocol: str) -> None:
        raise ImportError("Install s3fs to access S3")

    monkeypatch.setattr(fsspec, "get_filesystem_class", not_installed)
    with pytest.raises(BackendNotInstalledError) as caught:
        filesystem_class("s3")
    assert str(caught.value) == (
        "s3:// paths need the s3fs package, which is not installed on the agent host "
        "(pip install 'agent-file-sensor[s3]')"
    )


def test_s3_secrets_become_storage_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_FSEC_FILE_SENSOR_AWS_ACCESS_KEY_ID", "AKIA-from-secret")
    monkeypatch.setenv("_FSEC_FILE_SENSOR_AWS_SECRET_ACCESS_KEY", "secret-from-secret")
    monkeypatch.delenv("_FSEC_FILE_SENSOR_AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("FLYTE_SECRETS_DEFAULT_DIR", "/nonexistent-secrets-dir")
    assert storage_options("s3") == {"key": "AKIA-from-secret", "secret": "secret-from-secret"}
    assert storage_options("gs") == {}


def test_no_secrets_means_backend_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "SESSION_TOKEN"):
        monkeypatch.delenv(f"_FSEC_FILE_SENSOR_AWS_{name}", raising=False)
    monkeypatch.setenv("FLYTE_SECRETS_DEFAULT_DIR", "/nonexistent-secrets-dir")
    assert storage_options("s3") == {}


def test_long_paths_are_shortened_in_messages() -> None:
    with pytest.raises(UnsupportedPathError) as caught:
        parse_path("x" * 500 + "://bucket/" + "k" * 5000)
    assert len(str(caught.value)) < 400
    assert "…" in str(caught.value)


def test_policy_from_env_widens_schemes_and_restricts_local_paths(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AGENT_FILE_SENSOR_ALLOWED_SCHEMES", " Memory:// , abfs ,")
    monkeypatch.setenv("AGENT_FILE_SENSOR_LOCAL_PREFIXES", f"{tmp_path}/a, {tmp_path}/b")
    policy = PathPolicy.from_env()
    assert policy.schemes == DEFAULT_SCHEMES | {"memory", "abfs"}
    assert policy.check("memory://x").protocol == "memory"
    assert policy.check(f"{tmp_path}/b/c").is_local
    with pytest.raises(UnsupportedPathError, match="outside the local directories"):
        policy.check(f"{tmp_path}/ab")
    with pytest.raises(UnsupportedPathError, match="scheme 'http://'"):
        policy.check("http://example.com/x")


def test_an_upper_case_local_scheme_is_held_to_the_local_prefixes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import asyncio

    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "ready").touch()
    (tmp_path / "outside").touch()
    sensor = FileSensor(policy=PathPolicy(local_prefixes=(str(allowed),)))
    monkeypatch.chdir(allowed)  # a host whose working directory is an allowed one
    for scheme in ("FILE", "File", "LOCAL"):
        with pytest.raises(UnsupportedPathError, match="outside the local directories"):
            sensor.check_inputs({"path": f"{scheme}://{tmp_path}/outside"})
        with pytest.raises(UnsupportedPathError, match="outside the local directories"):
            asyncio.run(sensor.poke(f"{scheme}://{tmp_path}/outside"))
    monkeypatch.chdir(tmp_path)
    assert asyncio.run(sensor.poke(f"FILE://{allowed}/ready")) is True


def test_a_widened_memory_scheme_is_poked() -> None:
    import asyncio

    import fsspec

    fsspec.filesystem("memory").pipe("/policy-test/flag", b"x")
    sensor = FileSensor(policy=PathPolicy(schemes=DEFAULT_SCHEMES | {"memory"}))
    assert asyncio.run(sensor.poke("memory://policy-test/flag")) is True
    assert asyncio.run(sensor.poke("memory://policy-test/other")) is False
    with pytest.raises(UnsupportedPathError):
        asyncio.run(FileSensor().poke("memory://policy-test/flag"))


def test_connection_credentials_win_and_are_not_mixed(monkeypatch: pytest.MonkeyPatch) -> None:
    from agenthost import Connection
    from agenthost.connection import using_connection

    monkeypatch.setenv("_FSEC_FILE_SENSOR_AWS_ACCESS_KEY_ID", "AKIA-from-secret")
    monkeypatch.setenv("_FSEC_FILE_SENSOR_AWS_SECRET_ACCESS_KEY", "secret-from-secret")
    monkeypatch.setenv("_FSEC_FILE_SENSOR_AWS_SESSION_TOKEN", "token-from-secret")
    per_task = {"aws_access_key_id": "AKIA-task", "aws_secret_access_key": "secret-task"}
    with using_connection(Connection(secrets=per_task)):
        assert storage_options("s3") == {"key": "AKIA-task", "secret": "secret-task"}
    assert storage_options("s3")["key"] == "AKIA-from-secret"
    hosts = {
        "key": "AKIA-from-secret",
        "secret": "secret-from-secret",
        "token": "token-from-secret",
    }
    for partial in ({"aws_session_token": "token-task"}, {"aws_secret_access_key": "secret-task"}):
        # Without an access key the connection's other values never join the host's.
        with using_connection(Connection(secrets=partial)):
            assert storage_options("s3") == hosts


def test_cache_keys_hold_a_fingerprint_not_the_credentials() -> None:
    from agent_file_sensor.clients import cache_key

    key = cache_key("s3", {"key": "AKIA-x", "secret": "very-secret-value"})
    assert key.startswith("s3:") and "very-secret-value" not in key and "AKIA" not in key
    assert key == cache_key("s3", {"secret": "very-secret-value", "key": "AKIA-x"})
    assert key != cache_key("s3", {"key": "AKIA-x", "secret": "other"})
