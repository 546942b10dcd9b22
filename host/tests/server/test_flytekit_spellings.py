"""``agenthost serve`` accepts ``pyflyte serve connector``'s command line and logging
environment, with their meaning."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from server_test_kit import free_port, server_env
from typer.testing import CliRunner

from agenthost.cli import app
from agenthost.server import app as server_app
from agenthost.server.app import ServerConfig
from agenthost.server.logs import LogSettingError, resolve_log_settings
from agenthost.testing import serve_command, start_server, wait_for


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run ``agenthost serve ARGS`` in-process and return the ``ServerConfig`` it built."""
    for name in ("AGENTHOST_LOG_LEVEL", "AGENTHOST_LOG_FORMAT", "FLYTE_SDK_LOGGING_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    seen: list[ServerConfig] = []

    def fake_run(config: ServerConfig) -> int:
        seen.append(config)
        return 0

    monkeypatch.setattr(server_app, "run", fake_run)

    def parse(*args: str, env: dict[str, str] | None = None) -> ServerConfig:
        result = CliRunner().invoke(app, ["serve", *args], env=env)
        assert result.exit_code == 0, result.output
        return seen[-1]

    return parse


def test_flytekit_options_mean_what_they_mean_there(parsed: Any) -> None:
    config = parsed(
        "--prometheus_port", "9191", "--worker", "7", "--timeout", "30",
        "--modules", "first_module", "--modules", "second_module",
    )  # fmt: skip
    assert config.metrics_port == 9191
    assert config.max_threads == 7  # flytekit's --worker sizes the thread pool
    assert config.run_for == 30
    assert config.modules == ["first_module", "second_module"]


def test_flyte_sdk_logging_level_applies_only_without_an_agenthost_level(parsed: Any) -> None:
    assert parsed(env={"FLYTE_SDK_LOGGING_LEVEL": "10"}).log_level == "DEBUG"
    assert parsed(env={"FLYTE_SDK_LOGGING_LEVEL": "warning"}).log_level == "WARNING"
    both = {"FLYTE_SDK_LOGGING_LEVEL": "10", "AGENTHOST_LOG_LEVEL": "ERROR"}
    assert parsed(env=both).log_level == "ERROR"
    assert parsed("--log-level", "info", env={"FLYTE_SDK_LOGGING_LEVEL": "10"}).log_level == "INFO"
    assert parsed(env={"FLYTE_SDK_LOGGING_FORMAT": "json"}).log_format == "json"
    assert parsed().log_level == "INFO"


def test_bad_flyte_sdk_logging_level_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_SDK_LOGGING_LEVEL", "loud")
    with pytest.raises(LogSettingError, match="FLYTE_SDK_LOGGING_LEVEL"):
        resolve_log_settings(None, None)


def test_flytekit_command_line_serves_metrics_and_stops_after_timeout(tmp_path: Path) -> None:
    metrics_port = free_port()
    command = serve_command("--modules", "fake_plugins.basic", "--timeout", "3")
    command[command.index("--metrics-port")] = "--prometheus_port"
    command[command.index("--prometheus_port") + 1] = str(metrics_port)
    server = start_server(command, server_env(tmp_path, FLYTE_SDK_LOGGING_LEVEL="10"))
    began = time.monotonic()
    try:
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert b"flyte_connector_requests_success_total" in response.read()
        # --timeout stops the server by itself, as SIGTERM would.
        code = wait_for(lambda: server.process.poll() is not None, timeout=30) and (
            server.process.returncode
        )
        assert code == 0
        assert time.monotonic() - began < 25
    finally:
        server.stop()
    assert " DEBUG " in server.logs()  # FLYTE_SDK_LOGGING_LEVEL=10 is DEBUG


def _serve_to_exit(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``agenthost serve *args`` run to its exit, with ``env`` added to the test's."""
    return subprocess.run(
        serve_command(*args),
        env=server_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_negative_connection_age_is_rejected(tmp_path: Path) -> None:
    result = _serve_to_exit(tmp_path, "--max-connection-age", "-1")
    assert result.returncode == 2
    assert "--max-connection-age must not be negative" in result.stderr


def test_any_flyte_sdk_logging_number_starts_the_server(tmp_path: Path) -> None:
    # flytekit sets any number as the level; only multiples of 10 were taken here, so a
    # container moved from `pyflyte serve` with FLYTE_SDK_LOGGING_LEVEL=25 never started.
    result = _serve_to_exit(tmp_path, "--timeout", "1", FLYTE_SDK_LOGGING_LEVEL="25")
    assert result.returncode == 0, result.stderr
    assert " INFO " not in result.stderr  # 25 shows what WARNING (30) shows
    result = _serve_to_exit(tmp_path, FLYTE_SDK_LOGGING_LEVEL="loud")
    assert result.returncode == 2
    assert "FLYTE_SDK_LOGGING_LEVEL" in result.stderr
    assert "or a number" in result.stderr
