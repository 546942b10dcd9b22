"""``agenthost health``: the image's HEALTHCHECK and the chart's TLS probes, against a real
server (plain, and mutual TLS started with the arguments the chart renders, probed in
plaintext on its health-only port as kubelet does)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from deploy_kit import CHART

from agenthost.testing import (
    free_port,
    make_certificates,
    run_cli,
    running_server,
    serve_command,
    serving,
)

SERVICE_DNS = "rel-agenthost.flyte.svc"
"""The name the chart's probes expect in the certificate (release rel, namespace flyte)."""
SERVE = serve_command()


def health(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("health", *args, timeout=60)


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
    assert "--client-certand--client-keymustbegiventogether" in _plain(lonely.stderr)
    missing = health("--tls", "--ca-cert", str(tmp_path / "none.pem"))
    assert missing.returncode == 2
    assert "none.pem:nosuchfile" in _plain(missing.stderr)


def _plain(text: str) -> str:
    """Usage errors without the box drawing and line wrapping of the terminal output."""
    return "".join(re.sub("[│╭╮╰╯─]", " ", text).split())


def _production_container(helm: Path) -> dict[str, Any]:
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
    return dict(main)


def test_the_charts_mutual_tls_server_answers_its_plaintext_probe(
    helm: Path, tls_secret: Path
) -> None:
    main = _production_container(helm)
    env = {e["name"]: e.get("value") for e in main["env"]}
    probe_port = main["readinessProbe"]["grpc"]["port"]
    assert str(probe_port) == env["AGENTHOST_HEALTH_PORT"] != env["AGENTHOST_PORT"]
    args = [part.replace("/etc/agenthost/tls", str(tls_secret)) for part in main["args"]]
    assert "--tls-client-ca" in args
    health_port = str(free_port())  # the chart's port may be taken on this machine
    with serving([*SERVE, *args, "--health-port", health_port]) as server:
        # what kubelet's native gRPC probe does: plaintext, no certificate
        ok = health("--endpoint", f"127.0.0.1:{health_port}")
        assert (ok.returncode, ok.stdout.strip()) == (0, "SERVING"), ok.stderr
        tls = ["--endpoint", server.address, "--tls", "--ca-cert", str(tls_secret / "ca.crt")]
        tls += ["--server-name", SERVICE_DNS, "--timeout", "3"]
        client = ["--client-cert", str(tls_secret / "tls.crt")]
        client += ["--client-key", str(tls_secret / "tls.key")]
        with_certs = health(*tls, *client)
        assert (with_certs.returncode, with_certs.stdout.strip()) == (0, "SERVING")
        plain = health("--endpoint", server.address, "--timeout", "3")
        assert plain.returncode == 1
        no_client_cert = health(*tls)
        assert no_client_cert.returncode == 1
