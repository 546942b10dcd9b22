"""In-process checks of the hardening the reliability tests led to: secret-file permissions,
secret scrubbing in logs, traceback-shaped exception messages."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from agenthost.dispatch import summarize
from agenthost.secrets import InsecureSecretFileError, get_secret
from agenthost.server.logs import configure_logging


@pytest.fixture
def secrets_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FLYTE_SECRETS_DEFAULT_DIR", str(tmp_path))
    (tmp_path / "grp").mkdir()
    return tmp_path


def _secret_file(root: Path, name: str, value: str, mode: int) -> Path:
    path = root / "grp" / name
    path.write_text(value + "\n")
    path.chmod(mode)
    return path


def test_owner_only_secret_file_is_read_silently(
    secrets_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _secret_file(secrets_root, "quiet", "owner-only-value", 0o400)
    with caplog.at_level(logging.DEBUG):
        assert get_secret("quiet", group="grp") == "owner-only-value"
    assert caplog.records == []


def test_group_readable_secret_file_warns_once_without_the_value(
    secrets_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _secret_file(secrets_root, "shared", "group-readable-value", 0o644)
    with caplog.at_level(logging.DEBUG):
        assert get_secret("shared", group="grp") == "group-readable-value"
        assert get_secret("shared", group="grp") == "group-readable-value"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(path) in warnings[0].getMessage()
    assert "0644" in warnings[0].getMessage()
    assert "group-readable-value" not in caplog.text


@pytest.mark.parametrize("mode", [0o602, 0o620, 0o666])
def test_secret_file_writable_by_others_is_refused(secrets_root: Path, mode: int) -> None:
    _secret_file(secrets_root, "open", "tampered-value", mode)
    with pytest.raises(InsecureSecretFileError) as info:
        get_secret("open", group="grp", default="fallback")
    assert "tampered-value" not in str(info.value)
    assert "writable by group or others" in str(info.value)


def test_server_logs_scrub_secret_values(
    secrets_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("_FSEC_LOGGED_TOKEN", "value-that-must-not-be-logged")
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        for fmt in ("text", "json"):
            configure_logging("DEBUG", fmt)
            token = get_secret("logged_token")
            try:
                raise ValueError(f"bad token {token}")
            except ValueError:
                logging.getLogger("plugin").exception("failed with %s", token)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    text = stream.getvalue()
    assert "value-that-must-not-be-logged" not in text
    assert text.count("***") >= 4
    assert "Traceback" in text


def test_traceback_shaped_message_is_reduced_to_its_last_line() -> None:
    message = (
        'Traceback (most recent call last):\n  File "/srv/app/x.py", line 3, in f\n'
        "    boom()\nKeyError: 'missing'\n"
    )
    assert summarize(RuntimeError(message)) == "RuntimeError: KeyError: 'missing'"
    assert summarize(RuntimeError("plain\nsecond")) == "RuntimeError: plain"
    assert summarize(RuntimeError("Traceback (most recent call last):")) == "RuntimeError"
