"""``agenthost health``: the image's HEALTHCHECK and the chart's TLS probes, against a real
server (plain, TLS and mutual TLS with the exact probe command the chart renders)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_kit import CHART, serving

from agenthost.testing import make_certificates, running_server, serve_command

SERVICE_DNS = "rel-agenthost.flyte.svc"
"""The name the chart's probes expect in the certificate (release rel, namespace flyte)."""
SERVE = serve_command()


def health(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agenthost", "health", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def tls_secret(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out like the chart's mounted TLS Secret (production values): tls.crt and
    tls.key for the Service's name, ca.crt, and client-ca.crt for mutual TLS."""
    certs = make_certificates(tmp_path_factory.mktemp("pki"), server_names=(SERVICE_DNS,))
    folder = tmp_path_factory.mktemp("tls")
    for name, source in [
        ("ca.crt", certs.ca),
        ("client-ca.crt", certs.ca),
        ("tls.crt", certs.server_cert),
        ("tls.key", certs.server_key),
    ]:
        (folder / name).write_bytes(source.read_bytes())
    return folder


def test_a_serving_server_is_healthy_and_unknown_services_are_not() -> None:
    with running_server() as server:
        ok = health("--endpoint", server.address)
        assert (ok.returncode, ok.stdout.strip()) == (0, "SERVING")
        service = health(
            "--endpoint", server.address, "--service", "flyteidl.service.AsyncAgentService"
        )
        assert (service.returncode, service.stdout.strip()) == (0, "SERVING")
        unknown = health("--endpoint", server.address, "--service", "no.such.Service")
        assert (unknown.returncode, unknown.stdout.strip()) == (1, "SERVICE_UNKNOWN")
        port = str(server.port)
    from_env = subprocess.run(
        [sys.executable, "-m", "agenthost", "health", "--timeout", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"AGENTHOST_PORT": port, "PATH": ""},
    )
    assert from_env.returncode == 1
    assert f"127.0.0.1:{port}: UNAVAILABLE" in from_env.stderr
    assert "Traceback" not in from_env.stderr


def test_options_are_checked_before_dialing(tmp_path: Path) -> None:
    lonely = health("--client-cert", str(tmp_path / "c.pem"))
    assert lonely.returncode == 2
    assert "--client-certand--client-keygotogether" in _plain(lonely.stderr)
    missing = health("--tls", "--ca-cert", str(tmp_path / "none.pem"))
    assert missing.returncode == 2
    assert "none.pem:nosuchfile" in _plain(missing.stderr)


def _plain(text: str) -> str:
    """Usage errors without the box drawing and line wrapping of the terminal output."""
    return "".join(re.sub("[│╭╮╰╯─]", " ", text).split())


def _probe_command(helm: Path, tls_secret: Path) -> list[str]:
    import yaml

    rendered = subprocess.run(
        [
            str(helm),
            "template",
            "rel",
            str(CHART),
            "-n",
            "flyte",
            "-f",
            str(CHART / "ci" / "production-values.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    (deployment,) = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "Deployment"]
    (main,) = deployment["spec"]["template"]["spec"]["containers"]
    command: list[str] = main["readinessProbe"]["exec"]["command"]
    return [part.replace("/etc/agenthost/tls", str(tls_secret)) for part in command]


def test_the_charts_mutual_tls_probe_command_reports_serving(helm: Path, tls_secret: Path) -> None:
    probe = _probe_command(helm, tls_secret)
    assert probe[:2] == ["agenthost", "health"]
    args = [
        "--tls-cert",
        str(tls_secret / "tls.crt"),
        "--tls-key",
        str(tls_secret / "tls.key"),
        "--tls-client-ca",
        str(tls_secret / "client-ca.crt"),
    ]
    with serving([*SERVE, *args]) as server:
        endpoint = probe.index("--endpoint") + 1
        probe[endpoint] = server.address
        ok = health(*probe[2:])
        assert (ok.returncode, ok.stdout.strip()) == (0, "SERVING"), ok.stderr
        plain = health("--endpoint", server.address, "--timeout", "3")
        assert plain.returncode == 1
        no_client_cert = health(
            "--endpoint",
            server.address,
            "--tls",
            "--ca-cert",
            str(tls_secret / "ca.crt"),
            "--server-name",
            SERVICE_DNS,
            "--timeout",
            "3",
        )
        assert no_client_cert.returncode == 1
        wrong_name = health(*[p if p != SERVICE_DNS else "someone.else.svc" for p in probe[2:]])
        assert wrong_name.returncode == 1
