"""TLS material for tests: a throwaway CA with a server and a client certificate, as PEM files
(``make_certificates``), and the client credentials that trust them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CertificateFiles:
    """PEM files made by ``make_certificates``."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def serve_args(self, *, mutual: bool = False) -> list[str]:
        """The ``agenthost serve`` options that serve TLS with these files (and, with
        ``mutual``, require client certificates signed by the CA)."""
        args = ["--tls-cert", str(self.server_cert), "--tls-key", str(self.server_key)]
        return [*args, "--tls-client-ca", str(self.ca)] if mutual else args

    def client_credentials(self, *, with_certificate: bool = False) -> Any:
        """``grpc.ChannelCredentials`` trusting the CA (and, with ``with_certificate``,
        presenting the client certificate), for ``running_server(credentials=...)``."""
        from agenthost.run.channels import client_credentials

        if not with_certificate:
            return client_credentials(self.ca)
        return client_credentials(self.ca, self.client_cert, self.client_key)


def make_certificates(
    directory: Path, server_names: Sequence[str] = ("localhost", "127.0.0.1")
) -> CertificateFiles:
    """Write a throwaway CA, a server certificate for ``server_names`` (DNS names or IP
    addresses; the first is its common name) and a client certificate, valid for an hour,
    as PEM files in ``directory``. Needs ``cryptography`` (in ``agenthost[test]``)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def issue(
        subject: str,
        issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
        extensions: Sequence[x509.ExtensionType] = (),
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer[0].subject if issuer else name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), True)
        )
        for extension in extensions:
            builder = builder.add_extension(extension, critical=False)
        return builder.sign(issuer[1] if issuer else key, hashes.SHA256()), key

    def alt_name(name: str) -> x509.GeneralName:
        try:
            return x509.IPAddress(ipaddress.ip_address(name))
        except ValueError:
            return x509.DNSName(name)

    def write(stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        (directory / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (directory / f"{stem}.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    directory.mkdir(parents=True, exist_ok=True)
    ca = issue("agenthost-test-ca", None)
    write("ca", *ca)
    server_usage = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    write("server", *issue(server_names[0], ca, [
        x509.SubjectAlternativeName([alt_name(n) for n in server_names]),
        x509.ExtendedKeyUsage(server_usage),
    ]))  # fmt: skip
    write(
        "client", *issue("client", ca, [x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])])
    )
    return CertificateFiles(
        ca=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
    )
