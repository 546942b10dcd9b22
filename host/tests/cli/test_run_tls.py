"""``agenthost run --endpoint`` against a server that requires mutual TLS, with certificates
made for the test."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from cli_kit import CLI_ENV, MODULES

from agenthost.testing import (
    CertificateFiles,
    RunningServer,
    make_certificates,
    run_cli,
    running_server,
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    """A CA, a server certificate (127.0.0.1, localhost) and a client certificate."""
    return make_certificates(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def mtls_server(pki: CertificateFiles) -> Iterator[RunningServer]:
    """A server that requires a client certificate signed by the test CA."""
    import grpc

    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki.ca.read_bytes(),
        private_key=pki.client_key.read_bytes(),
        certificate_chain=pki.client_cert.read_bytes(),
    )
    with running_server(
        *MODULES,
        "--tls-cert", str(pki.server_cert),
        "--tls-key", str(pki.server_key),
        "--tls-client-ca", str(pki.ca),
        env=CLI_ENV,
        credentials=credentials,
    ) as server:  # fmt: skip
        yield server


SUM = ("run", "people_sum", "-i", "a=1", "-i", "b=2", "--rpc-timeout", "10")


def test_run_with_a_client_certificate(mtls_server: RunningServer, pki: CertificateFiles) -> None:
    done = run_cli(
        *SUM,
        "--endpoint", mtls_server.address,
        "--ca-cert", str(pki.ca),
        "--client-cert", str(pki.client_cert),
        "--client-key", str(pki.client_key),
        env=CLI_ENV,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"total": 3}


def test_run_without_a_client_certificate_is_refused(
    mtls_server: RunningServer, pki: CertificateFiles
) -> None:
    done = run_cli(*SUM, "--endpoint", mtls_server.address, "--ca-cert", str(pki.ca), env=CLI_ENV)
    assert done.returncode == 1
    assert f"cannot reach {mtls_server.address}" in done.stderr
    assert "Traceback" not in done.stderr


def test_loopback_defaults_to_plaintext_which_a_tls_server_refuses(
    mtls_server: RunningServer,
) -> None:
    done = run_cli(*SUM, "--endpoint", mtls_server.address, env=CLI_ENV)
    assert done.returncode == 1
    assert "cannot reach" in done.stderr


def test_client_cert_needs_its_key(pki: CertificateFiles) -> None:
    done = run_cli(
        *SUM, "--endpoint", "127.0.0.1:1", "--client-cert", str(pki.client_cert), env=CLI_ENV
    )
    assert done.returncode == 2
    assert "--client-cert and --client-key must be given together" in done.stderr
