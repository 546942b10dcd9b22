"""``ServerConfig.validate`` and ``cautions`` in process: every problem named, one line each, in
option order."""

from __future__ import annotations

from pathlib import Path

from agenthost.server.config import ServerConfig


def test_a_valid_configuration_has_no_problems() -> None:
    assert ServerConfig().validate() == []


def test_every_problem_is_named_once_in_option_order(tmp_path: Path) -> None:
    config = ServerConfig(
        tls_key=tmp_path / "key.pem",
        tls_client_ca=tmp_path / "ca.pem",
        protocols=("v1", "v3"),
        workers=0,
        event_loop="fast",
        grace_period=-1,
        max_connection_age_grace=-1,
        run_for=0,
        read_timeout=0,
        worker_start_timeout=0,
        max_connection_idle=-1,
        max_concurrent_rpcs=-1,
        agent_concurrency=0,
        max_pending_calls=0,
        port=70000,
        metrics_port=9000,
        health_port=9000,
    )
    assert config.validate() == [
        "--tls-cert and --tls-key must be given together",
        "--tls-client-ca needs --tls-cert and --tls-key",
        f"--tls-key {tmp_path / 'key.pem'}: no such file",
        f"--tls-client-ca {tmp_path / 'ca.pem'}: no such file",
        "--protocols must name one or more of v1, v2 (got v1,v3)",
        "--workers must be at least 1",
        "--event-loop must be one of auto, uvloop, asyncio (got 'fast')",
        "--grace-period must not be negative",
        "--max-connection-age-grace must not be negative",
        "--timeout must be positive",
        "--read-timeout must be positive",
        "--worker-start-timeout must be positive",
        "--max-connection-idle must not be negative (0: never close)",
        "--max-concurrent-rpcs must not be negative (0: no limit)",
        "--agent-concurrency must be at least 1",
        "--max-pending-calls must be at least 1",
        "--port 70000 is not a port number (0-65535)",
        "--metrics-port and --health-port are both 9000",
    ]


def test_no_protocol_at_all_is_named() -> None:
    assert ServerConfig(protocols=()).validate() == [
        "--protocols must name one or more of v1, v2 (got nothing)"
    ]


def test_a_budget_of_few_requests_is_cautioned_about_not_refused() -> None:
    mib = 1024 * 1024
    assert ServerConfig().cautions() == []  # 64 MiB for 8 MiB messages: 8 reads at once
    assert ServerConfig(max_request_bytes=32 * mib, max_message_size=8 * mib).cautions() == []
    config = ServerConfig(max_request_bytes=64 * mib, max_message_size=64 * mib)
    assert config.validate() == []
    (caution,) = config.cautions()
    assert caution.startswith(
        "--max-request-bytes 67108864 lets only 1 request(s) of up to --max-message-size "
        "67108864 be read at once; a client that opens agent calls and sends nothing holds "
        "each such read for up to --read-timeout (20 s)"
    )


def test_tls_files_grpc_could_not_serve_with_are_named(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    from agenthost.testing.tls import make_certificates

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ours, other = make_certificates(tmp_path / "a"), make_certificates(tmp_path / "b")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not PEM at all")
    protected = tmp_path / "protected.key"
    key = serialization.load_pem_private_key(ours.server_key.read_bytes(), None)
    protected.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )

    def problems(cert: Path, key: Path, client_ca: Path | None = None) -> list[str]:
        return ServerConfig(tls_cert=cert, tls_key=key, tls_client_ca=client_ca).validate()

    assert problems(ours.server_cert, ours.server_key, ours.ca) == []
    assert problems(ours.server_cert, other.server_key) == [
        f"--tls-key {other.server_key} is not the private key of --tls-cert {ours.server_cert}"
    ]
    assert problems(ours.server_cert, garbage) == [f"--tls-key {garbage}: not a PEM private key"]
    assert problems(garbage, ours.server_key) == [f"--tls-cert {garbage}: no PEM certificate in it"]
    assert problems(ours.server_cert, protected) == [
        f"--tls-key {protected} is protected by a passphrase; give the key without one"
    ]
    assert problems(ours.server_cert, ours.server_key, garbage) == [
        f"--tls-client-ca {garbage}: no PEM certificate in it"
    ]


def test_a_tls_file_the_server_cannot_read_is_named(tmp_path: Path) -> None:
    from agenthost.server.tls import tls_file_problems
    from agenthost.testing.tls import make_certificates

    pki = make_certificates(tmp_path)
    folder = tmp_path / "key-folder.pem"  # a directory where a key should be: open() fails
    folder.mkdir()
    (problem,) = tls_file_problems(pki.server_cert, folder)
    assert problem.startswith(f"--tls-key {folder}: cannot read it (")
