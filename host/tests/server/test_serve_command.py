"""``agenthost serve`` refuses bad configurations before serving anything."""

from __future__ import annotations

import subprocess
from pathlib import Path

from server_test_kit import server_env

from agenthost.testing import serve_command


def _serve(markers: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        serve_command(*args),
        env={**server_env(markers)},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_strict_refuses_to_start_when_a_plugin_fails(tmp_path: Path) -> None:
    result = _serve(tmp_path, "--modules", "fake_plugins.basic,no_such_module_xyz", "--strict")
    assert result.returncode == 1
    assert "no_such_module_xyz" in result.stderr
    assert "agenthost serving on" not in result.stdout


def test_tls_key_without_certificate_is_rejected(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text("not really a key")
    result = _serve(tmp_path, "--tls-key", str(key))
    assert result.returncode == 2
    assert "--tls-cert and --tls-key must be given together" in result.stderr


def test_a_key_that_is_not_the_certificates_is_named_before_binding(tmp_path: Path) -> None:
    from agenthost.testing.tls import make_certificates

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ours, other = make_certificates(tmp_path / "a"), make_certificates(tmp_path / "b")
    result = _serve(
        tmp_path, "--tls-cert", str(ours.server_cert), "--tls-key", str(other.server_key)
    )
    assert result.returncode == 2
    assert (
        f"--tls-key {other.server_key} is not the private key of --tls-cert {ours.server_cert}"
        in result.stderr
    )
    assert "cannot bind" not in result.stderr
    assert "PRIVATE KEY" not in result.stderr + result.stdout


def test_unknown_log_format_is_rejected(tmp_path: Path) -> None:
    result = _serve(tmp_path, "--log-format", "xml")
    assert result.returncode == 2
    assert "text or json" in result.stderr


def test_unknown_protocol_is_rejected(tmp_path: Path) -> None:
    for value in ("v3", ",", "v1,grpc"):
        result = _serve(tmp_path, "--protocols", value)
        assert result.returncode == 2, value
        assert "--protocols must name one or more of v1, v2" in result.stderr


def test_durations_that_are_not_finite_are_named_before_serving(tmp_path: Path) -> None:
    # nan passed every range check (a traceback at --timeout or at shutdown); inf overflowed
    # grpc's millisecond options.
    result = _serve(
        tmp_path, "--timeout", "nan", "--grace-period", "nan", "--handshake-timeout", "inf"
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for option, value in (
        ("grace-period", "nan"),
        ("timeout", "nan"),
        ("handshake-timeout", "inf"),
    ):
        assert f"--{option} must be a finite number of seconds (got {value})" in result.stderr
    env = {**server_env(tmp_path), "AGENTHOST_READ_TIMEOUT": "NaN"}
    result = subprocess.run(
        serve_command(), env=env, capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--read-timeout must be a finite number of seconds (got nan)" in result.stderr
    assert "agenthost serving on" not in result.stdout
