"""``agenthost run --endpoint`` against a server that requires mutual TLS, with certificates
made for the test."""

from __future__ import annotations

import datetime
import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from people_kit import MODULES, agenthost, people_env

from agenthost.testing import RunningServer, running_server


def _issue(
    subject: str, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None, **ext: bool
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if ext.get("server"):
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256()), key


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    path.with_suffix(".pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.with_suffix(".key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ca.pem, server.pem/.key (127.0.0.1, localhost) and client.pem/.key."""
    root = tmp_path_factory.mktemp("pki")
    ca = _issue("people-ca", None)
    _write(root / "ca", *ca)
    _write(root / "server", *_issue("127.0.0.1", ca, server=True))
    _write(root / "client", *_issue("client", ca))
    return root


@pytest.fixture(scope="module")
def mtls_server(pki: Path) -> Iterator[RunningServer]:
    """A server that requires a client certificate signed by the test CA."""
    import grpc

    credentials = grpc.ssl_channel_credentials(
        root_certificates=(pki / "ca.pem").read_bytes(),
        private_key=(pki / "client.key").read_bytes(),
        certificate_chain=(pki / "client.pem").read_bytes(),
    )
    with running_server(
        *MODULES,
        "--tls-cert", str(pki / "server.pem"),
        "--tls-key", str(pki / "server.key"),
        "--tls-client-ca", str(pki / "ca.pem"),
        env={"PYTHONPATH": people_env()["PYTHONPATH"]},
        credentials=credentials,
    ) as server:  # fmt: skip
        yield server


SUM = ("run", "people_sum", "-i", "a=1", "-i", "b=2", "--rpc-timeout", "10")


def test_run_with_a_client_certificate(mtls_server: RunningServer, pki: Path) -> None:
    done = agenthost(
        *SUM,
        "--endpoint", mtls_server.address,
        "--ca-cert", str(pki / "ca.pem"),
        "--client-cert", str(pki / "client.pem"),
        "--client-key", str(pki / "client.key"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"total": 3}


def test_run_without_a_client_certificate_is_refused(mtls_server: RunningServer, pki: Path) -> None:
    done = agenthost(*SUM, "--endpoint", mtls_server.address, "--ca-cert", str(pki / "ca.pem"))
    assert done.returncode == 1
    assert f"cannot reach {mtls_server.address}" in done.stderr
    assert "Traceback" not in done.stderr


def test_loopback_defaults_to_plaintext_which_a_tls_server_refuses(
    mtls_server: RunningServer,
) -> None:
    done = agenthost(*SUM, "--endpoint", mtls_server.address)
    assert done.returncode == 1
    assert "cannot reach" in done.stderr


def test_client_cert_needs_its_key(pki: Path) -> None:
    done = agenthost(*SUM, "--endpoint", "127.0.0.1:1", "--client-cert", str(pki / "client.pem"))
    assert done.returncode == 2
    assert "--client-cert and --client-key must be given together" in done.stderr
