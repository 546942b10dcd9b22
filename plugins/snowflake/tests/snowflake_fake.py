"""Start and drive ``fakesnow_server.py`` (fakesnow plus the parts it does not emulate) from
tests: a subprocess on a free port of 127.0.0.1, stopped and reaped on exit."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from agenthost.testing import ServerProcess, start_server

SCRIPT = Path(__file__).with_name("fakesnow_server.py")
READY_PREFIX = "fakesnow listening on "


@dataclass
class FakeSnowflake:
    """A running fake: its address, its control endpoints, and a connector session on it."""

    server: ServerProcess
    host: str
    port: int

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

    def refuse_database(self, name: str) -> None:
        """Refuse logins whose session names database ``name`` (Snowflake's 390201)."""
        self._call(f"/_fake/databases/{name}/missing", {})

    def state(self) -> dict[str, Any]:
        """Logins per (upper-case) user, status polls, cancels and closed sessions so far."""
        result: dict[str, Any] = self._call("/_fake/state")
        return result

    def logins(self, user: str) -> int:
        """How many times ``user`` logged in."""
        return int(self.state()["logins"].get(user.upper(), 0))

    def connect(self, **params: Any) -> Any:
        """A connector session of a data consumer outside agenthost (password login: fakesnow
        accepts any), on database ``DB``, schema ``PUBLIC`` unless ``params`` say otherwise."""
        import snowflake.connector

        defaults = {"user": "reader", "password": "x", "account": "myorg-myaccount",
                    "database": "DB", "schema": "PUBLIC"}  # fmt: skip
        return snowflake.connector.connect(
            **{**defaults, **params}, host=self.host, port=self.port, protocol="http"
        )

    def rows_of(self, query_id: str) -> list[tuple[Any, ...]]:
        """The rows of query ``query_id``, read as a consumer of output ``results`` would."""
        connection = self.connect()
        try:
            cursor = connection.cursor()
            cursor.get_results_from_sfqid(query_id)
            return list(cursor.fetchall())
        finally:
            connection.close()

    def run(self, *statements: str) -> None:
        """Run set-up statements (tables for the tests' queries) in a consumer's session."""
        connection = self.connect()
        try:
            cursor = connection.cursor()
            for statement in statements:
                cursor.execute(statement)
        finally:
            connection.close()

    def create_sample_table(self) -> None:
        """``DB.PUBLIC.T (ID, NAME)`` with rows ``(1, 'one'), (2, 'two')``: the table the query
        of flyte-sdk's serialized Snowflake template (``SELECT * FROM t WHERE id = %(id)s``)
        reads."""
        self.run(
            "CREATE DATABASE IF NOT EXISTS DB",
            "CREATE OR REPLACE TABLE DB.PUBLIC.T (ID INT, NAME TEXT)",
            "INSERT INTO DB.PUBLIC.T VALUES (1, 'one'), (2, 'two')",
        )


@contextlib.contextmanager
def running_fakesnow(timeout: float = 60.0) -> Iterator[FakeSnowflake]:
    """Run the fake until the block ends."""
    server = start_server([sys.executable, str(SCRIPT)], timeout=timeout, ready_prefix=READY_PREFIX)
    try:
        host, port = server.address.rsplit(":", 1)
        yield FakeSnowflake(server, host, int(port))
    finally:
        server.stop()


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
