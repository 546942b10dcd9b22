"""TLS and mutual TLS, with certificates generated for the test."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from flyteidl.admin import agent_pb2
from flyteidl.service import agent_pb2_grpc
from server_test_kit import test_server

from agenthost.testing import CertificateFiles, make_certificates


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""
    return make_certificates(tmp_path_factory.mktemp("pki"))


def _list_agents(channel: grpc.Channel) -> list[str]:
    stub = agent_pb2_grpc.AgentMetadataServiceStub(channel)
    return [a.name for a in stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=10).agents]


def test_tls(markers: Path, pki: CertificateFiles) -> None:
    credentials = grpc.ssl_channel_credentials(root_certificates=pki.ca.read_bytes())
    args = ("--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key))
    with test_server(markers, *args, credentials=credentials) as server:
        assert "FastAgent" in _list_agents(server.channel)
        with grpc.insecure_channel(server.address) as plain:
            with pytest.raises(grpc.RpcError) as info:
                _list_agents(plain)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls(markers: Path, pki: CertificateFiles) -> None:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki.ca.read_bytes(),
        private_key=pki.client_key.read_bytes(),
        certificate_chain=pki.client_cert.read_bytes(),
    )
    args = (
        "--tls-cert",
        str(pki.server_cert),
        "--tls-key",
        str(pki.server_key),
        "--tls-client-ca",
        str(pki.ca),
    )
    with test_server(markers, *args, credentials=credentials) as server:
        assert "FastAgent" in _list_agents(server.channel)
        anonymous = grpc.ssl_channel_credentials(root_certificates=pki.ca.read_bytes())
        with grpc.secure_channel(server.address, anonymous) as channel:
            with pytest.raises(grpc.RpcError) as info:
                _list_agents(channel)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
