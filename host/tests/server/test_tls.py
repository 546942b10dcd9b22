"""TLS and mutual TLS, with certificates generated for the test."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from flyteidl.admin import agent_pb2
from flyteidl.service import agent_pb2_grpc
from server_test_kit import test_server


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    elif not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(issuer_key or key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""
    root = tmp_path_factory.mktemp("pki")
    ca_key = _key()
    ca = _cert("test-ca", ca_key, None, None, ca=True)
    server_key = _key()
    server = _cert("127.0.0.1", server_key, ca, ca_key, server=True)
    client_key = _key()
    client = _cert("client", client_key, ca, ca_key)
    files = {
        "ca": ca.public_bytes(serialization.Encoding.PEM),
        "server_cert": server.public_bytes(serialization.Encoding.PEM),
        "server_key": _pem_key(server_key),
        "client_cert": client.public_bytes(serialization.Encoding.PEM),
        "client_key": _pem_key(client_key),
    }
    paths = {}
    for name, data in files.items():
        paths[name] = root / f"{name}.pem"
        paths[name].write_bytes(data)
    return paths


def _list_agents(channel: grpc.Channel) -> list[str]:
    stub = agent_pb2_grpc.AgentMetadataServiceStub(channel)
    return [a.name for a in stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=10).agents]


def test_tls(markers: Path, pki: dict[str, Path]) -> None:
    credentials = grpc.ssl_channel_credentials(root_certificates=pki["ca"].read_bytes())
    args = ("--tls-cert", str(pki["server_cert"]), "--tls-key", str(pki["server_key"]))
    with test_server(markers, *args, credentials=credentials) as server:
        assert "FastAgent" in _list_agents(server.channel)
        with grpc.insecure_channel(server.address) as plain:
            with pytest.raises(grpc.RpcError) as info:
                _list_agents(plain)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls(markers: Path, pki: dict[str, Path]) -> None:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki["ca"].read_bytes(),
        private_key=pki["client_key"].read_bytes(),
        certificate_chain=pki["client_cert"].read_bytes(),
    )
    args = (
        "--tls-cert",
        str(pki["server_cert"]),
        "--tls-key",
        str(pki["server_key"]),
        "--tls-client-ca",
        str(pki["ca"]),
    )
    with test_server(markers, *args, credentials=credentials) as server:
        assert "FastAgent" in _list_agents(server.channel)
        anonymous = grpc.ssl_channel_credentials(root_certificates=pki["ca"].read_bytes())
        with grpc.secure_channel(server.address, anonymous) as channel:
            with pytest.raises(grpc.RpcError) as info:
                _list_agents(channel)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
