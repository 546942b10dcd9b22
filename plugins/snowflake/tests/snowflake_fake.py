"""Start and drive ``fakesnow_server.py`` (fakesnow plus the parts it does not emulate) from
tests: a subprocess on a free port of 127.0.0.1, stopped and reaped on exit."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from agenthost.testing import stop_process

SCRIPT = Path(__file__).with_name("fakesnow_server.py")
READY_PREFIX = "fakesnow listening on "


@dataclass
class FakeSnowflake:
    """A running fake: its address and its control endpoints."""

    process: subprocess.Popen[str]
    host: str
    port: int
    output: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        """The agent's endpoint settings for this fake."""
        return {
            "SNOWFLAKE_HOST": self.host,
            "SNOWFLAKE_PORT": str(self.port),
            "SNOWFLAKE_PROTOCOL": "http",
        }

    def _call(self, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://{self.host}:{self.port}{path}",
            data=data,
            headers={"Content-Type": "application/json"},
            method="GET" if body is None else "POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def script(self, query_id: str, *statuses: str, code: str = "", message: str = "") -> None:
        """Make ``get`` see ``statuses`` for ``query_id``, one per poll (the last one stays)."""
        body: dict[str, Any] = {"statuses": list(statuses)}
        if code:
            body["errorCode"] = code
        if message:
            body["errorMessage"] = message
        self._call(f"/_fake/queries/{query_id}", body)

    def register_key(self, user: str, public_key_fingerprint: str) -> None:
        """Only accept key-pair logins of ``user`` made with this key."""
        self._call(f"/_fake/users/{user}", {"fingerprint": public_key_fingerprint})

    def state(self) -> dict[str, Any]:
        """Logins per (upper-case) user, status polls, cancels and closed sessions so far."""
        result: dict[str, Any] = self._call("/_fake/state")
        return result

    def logins(self, user: str) -> int:
        """How many times ``user`` logged in."""
        return int(self.state()["logins"].get(user.upper(), 0))


@contextlib.contextmanager
def running_fakesnow(timeout: float = 60.0) -> Iterator[FakeSnowflake]:
    """Run the fake until the block ends."""
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if line.startswith(READY_PREFIX):
                ready.set()
        ready.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        ready.wait(timeout)
        line = next((x for x in output if x.startswith(READY_PREFIX)), None)
        if line is None:
            raise RuntimeError("fakesnow did not start:\n" + "".join(output)[-4000:])
        host, port = line[len(READY_PREFIX) :].strip().rsplit(":", 1)
        yield FakeSnowflake(process, host, int(port), output)
    finally:
        stop_process(process)
        reader.join(timeout=5)


@dataclass(frozen=True)
class KeyPairFiles:
    """An RSA key pair as Snowflake users have them: the PEM private key and the public key's
    fingerprint Snowflake matches JWT issuers against."""

    private_pem: str
    fingerprint: str


def make_key_pair(passphrase: str | None = None) -> KeyPairFiles:
    """A fresh 2048-bit RSA key pair (PKCS#8 PEM, encrypted if ``passphrase`` is given)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = base64.b64encode(hashlib.sha256(public_der).digest()).decode()
    return KeyPairFiles(private_pem=pem, fingerprint=f"SHA256:{digest}")
