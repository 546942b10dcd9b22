"""``--health-port``: a plaintext listener that serves only ``grpc.health.v1``, for kubelet's
gRPC probes when the main port speaks TLS."""

from __future__ import annotations

import concurrent.futures
import signal
import socket
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import agent_pb2
from flyteidl.service import agent_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from server_test_kit import free_port, test_server

from agenthost.testing import CertificateFiles, make_certificates, make_template, wait_for

SERVING = health_pb2.HealthCheckResponse.SERVING


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    return make_certificates(tmp_path_factory.mktemp("pki"))


def _check(channel: grpc.Channel, service: str = "") -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return int(stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10).status)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_tls_server_answers_health_in_plaintext_and_nothing_else(
    markers: Path, pki: CertificateFiles, workers: str
) -> None:
    health_port = free_port()
    credentials = grpc.ssl_channel_credentials(root_certificates=pki.ca.read_bytes())
    args: tuple[str, ...] = ("--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key))
    args += ("--health-port", str(health_port), "--workers", workers)
    with test_server(markers, *args, credentials=credentials) as server:
        assert _check(server.channel) == SERVING  # the TLS port keeps its health service
        with grpc.insecure_channel(f"127.0.0.1:{health_port}") as plain:
            assert _check(plain) == SERVING
            assert _check(plain, "flyteidl.service.AsyncAgentService") == SERVING
            stub = agent_pb2_grpc.AgentMetadataServiceStub(plain)
            with pytest.raises(grpc.RpcError) as info:
                stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=10)
            assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
            from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

            reflection = reflection_pb2_grpc.ServerReflectionStub(plain)
            with pytest.raises(grpc.RpcError) as info:
                list(
                    reflection.ServerReflectionInfo(
                        iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                        timeout=10,
                    )
                )
            assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
        health = subprocess.run(
            [sys.executable, "-m", "agenthost", "health", "--endpoint", f"127.0.0.1:{health_port}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert health.returncode == 0, health.stdout + health.stderr
        with pytest.raises(ConnectionRefusedError):  # bound like --host (127.0.0.1)
            socket.create_connection(("127.0.0.2", health_port), timeout=5).close()


def test_health_port_and_host_come_from_the_environment_too(
    markers: Path, pki: CertificateFiles
) -> None:
    health_port = free_port()
    env = {"AGENTHOST_HEALTH_PORT": str(health_port), "AGENTHOST_HEALTH_HOST": "127.0.0.2"}
    credentials = grpc.ssl_channel_credentials(root_certificates=pki.ca.read_bytes())
    args = ("--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key))
    with test_server(markers, *args, env=env, credentials=credentials):
        with grpc.insecure_channel(f"127.0.0.2:{health_port}") as plain:
            assert _check(plain) == SERVING
        with pytest.raises(ConnectionRefusedError):  # AGENTHOST_HEALTH_HOST, not --host
            socket.create_connection(("127.0.0.1", health_port), timeout=5).close()


def test_health_port_reports_not_serving_while_draining(markers: Path) -> None:
    health_port = free_port()
    args = ("--health-port", str(health_port), "--grace-period", "20")
    with test_server(markers, *args) as server:
        with grpc.insecure_channel(f"127.0.0.1:{health_port}") as plain:
            watch = health_pb2_grpc.HealthStub(plain).Watch(
                health_pb2.HealthCheckRequest(service=""), timeout=60
            )
            assert next(watch).status == SERVING
            slow = make_template("slow_async", custom={"seconds": 3, "tag": "drain-health"})
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                pending = pool.submit(
                    server.async_stub.CreateTask,
                    agent_pb2.CreateTaskRequest(template=slow),
                    timeout=20,
                )
                wait_for(lambda: (markers / "started-drain-health").exists(), timeout=20)
                server.process.send_signal(signal.SIGTERM)
                assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
                watch.cancel()
                assert pending.result(timeout=20).resource_meta  # the in-flight call finished
        assert server.process.wait(timeout=20) == 0


def test_health_port_closes_handshake_less_and_idle_connections(markers: Path) -> None:
    """``--handshake-timeout`` and ``--max-connection-idle`` hold on ``--health-port`` too (it
    binds ``--host``, every interface by default): it once kept a connection that sent nothing
    for grpc's default 120 s, and an idle one for ever."""
    from hardening_kit import idle_connection_closed_after, open_silent_connections, still_open

    health_port = free_port()
    args = ("--health-port", str(health_port))
    limits = ("--handshake-timeout", "1", "--max-connection-idle", "1")
    with test_server(markers, *args, *limits):
        sockets = open_silent_connections(f"127.0.0.1:{health_port}", 10)
        try:
            wait_for(lambda: still_open(sockets) == 0, timeout=15)
        finally:
            for sock in sockets:
                sock.close()
        closed_after = idle_connection_closed_after(f"127.0.0.1:{health_port}", 15)
        assert closed_after is not None
        assert closed_after < 15
