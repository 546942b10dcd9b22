"""Check the TLS files of ``--tls-cert``, ``--tls-key`` and ``--tls-client-ca`` before serving.

grpc reads them only when the port is bound, and then reports any problem as a failure to bind
the address. Loading them first with the standard library's ``ssl`` names the file at fault:
a certificate or key that is not PEM, a key that is not the certificate's, a passphrase-protected
key (grpc cannot use one) or a client CA bundle with no certificate. File contents never appear
in the messages.
"""

from __future__ import annotations

import ssl
from pathlib import Path


def tls_file_problems(cert: Path, key: Path, client_ca: Path | None = None) -> list[str]:
    """Problems with existing TLS files, one line each (empty if grpc can serve with them)."""
    named = {"--tls-cert": cert, "--tls-key": key, "--tls-client-ca": client_ca}
    unreadable = [
        f"{option} {path}: cannot read it ({_read_error(path)})"
        for option, path in named.items()
        if path is not None and _read_error(path)
    ]
    if unreadable:
        return unreadable
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # No minimum key size or digest strength here: grpc (BoringSSL) enforces none at load time,
    # so a file it accepts must pass this check too.
    context.set_ciphers("ALL:@SECLEVEL=0")
    problems = []
    try:
        # An empty passphrase: a protected key fails here rather than prompting on a terminal.
        context.load_cert_chain(cert, key, password=b"")
    except ssl.SSLError as exc:
        problems.append(_pair_problem(cert, key, exc))
    if client_ca is not None:
        try:
            context.load_verify_locations(cafile=client_ca)
        except ssl.SSLError:
            problems.append(f"--tls-client-ca {client_ca}: no PEM certificate in it")
    return problems


def _pair_problem(cert: Path, key: Path, error: ssl.SSLError) -> str:
    if error.reason == "KEY_VALUES_MISMATCH":
        return f"--tls-key {key} is not the private key of --tls-cert {cert}"
    if b"-----BEGIN CERTIFICATE-----" not in _read(cert):
        return f"--tls-cert {cert}: no PEM certificate in it"
    if b"ENCRYPTED" in _read(key):  # PKCS#8 "ENCRYPTED PRIVATE KEY" or "Proc-Type: 4,ENCRYPTED"
        return f"--tls-key {key} is protected by a passphrase; give the key without one"
    return f"--tls-key {key}: not a PEM private key"


def _read_error(path: Path) -> str:
    """Why ``path`` cannot be read ("" if it can), e.g. a Secret mounted for another user."""
    try:
        with path.open("rb"):
            return ""
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""
