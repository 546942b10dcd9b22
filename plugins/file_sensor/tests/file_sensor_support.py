"""Helpers for the file sensor tests: a real moto S3 server and a GCS emulator as subprocesses
on 127.0.0.1, and the calls the server tests make (``free_port`` is ``agenthost.testing``'s)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flyteidl.admin import agent_pb2

from agenthost.testing import (
    RunningServer,
    free_port,
    make_inputs,
    make_template,
    stop_process,
    wait_for,
)

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing-key-id",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    # One attempt per botocore call: tests that hit a dead endpoint fail fast.
    "AWS_MAX_ATTEMPTS": "1",
    "AWS_RETRY_MODE": "standard",
}


@dataclass
class MotoServer:
    """A moto server subprocess and the environment that points AWS clients at it."""

    endpoint: str
    process: subprocess.Popen[bytes]

    @property
    def env(self) -> dict[str, str]:
        """``AWS_ENDPOINT_URL`` plus fake credentials and region."""
        return {"AWS_ENDPOINT_URL": self.endpoint, **FAKE_CREDENTIALS}

    def s3_client(self) -> Any:
        """A boto3 S3 client talking to this server."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )


@dataclass
class GcsEmulator:
    """A gcp-storage-emulator subprocess (in memory) and the environment that points gcsfs
    at it."""

    endpoint: str
    process: subprocess.Popen[bytes]

    @property
    def env(self) -> dict[str, str]:
        """``STORAGE_EMULATOR_HOST``, anonymous access through fsspec's env config, and
        no hierarchical-namespace probing."""
        return {
            "STORAGE_EMULATOR_HOST": self.endpoint,
            "FSSPEC_GS_TOKEN": "anon",
            "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
        }

    def create_bucket(self, bucket: str) -> None:
        """Create ``bucket`` through the emulator's JSON API."""
        body = json.dumps({"name": bucket}).encode()
        self._post("/storage/v1/b?project=test", body, "application/json")

    def put_object(self, bucket: str, key: str, data: bytes = b"ready") -> None:
        """Upload ``data`` as ``bucket/key`` through the emulator's media upload API (the
        emulator drops the connection on an empty media upload, hence non-empty data)."""
        query = urllib.parse.urlencode({"uploadType": "media", "name": key})
        self._post(f"/upload/storage/v1/b/{bucket}/o?{query}", data, "application/octet-stream")

    def _post(self, path: str, body: bytes, content_type: str) -> None:
        request = urllib.request.Request(
            self.endpoint + path, data=body, method="POST", headers={"Content-Type": content_type}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200, response.status


def start_gcs_emulator() -> GcsEmulator:
    """Start ``gcp-storage-emulator`` in memory on a free loopback port; wait until it answers."""
    command = [sys.executable, "-m", "gcp_storage_emulator", "start", "-H", "127.0.0.1"]
    process, endpoint = _start_http_emulator(
        lambda port: [*command, "--port", str(port), "--in-memory", "-q"],
        "/storage/v1/b",
        "gcp-storage-emulator",
    )
    return GcsEmulator(endpoint=endpoint, process=process)


def start_moto(extra_env: dict[str, str] | None = None) -> MotoServer:
    """Start ``python -m moto.server`` on a free loopback port and wait until it answers."""
    process, endpoint = _start_http_emulator(
        lambda port: [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        "/moto-api/",
        "moto server",
        extra_env,
    )
    return MotoServer(endpoint=endpoint, process=process)


def _start_http_emulator(
    command: Callable[[int], list[str]],
    probe: str,
    name: str,
    extra_env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``command(port)`` on a free loopback port; once any HTTP answer comes from
    ``probe``, the process and its endpoint (stopped again if it never answers)."""
    port = free_port()
    process = subprocess.Popen(
        command(port),
        env={**os.environ, **(extra_env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: process.poll() is not None or _answers(endpoint + probe))
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
    except BaseException:
        stop(process)
        raise
    return process, endpoint


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer means the server is up
    except OSError:
        return False


def start_strict_moto(bucket: str, key: str) -> tuple[MotoServer, dict[str, str]]:
    """A moto server that checks credentials (IAM) holding ``bucket`` with object ``key``, and
    the connection secrets of an IAM user allowed to read it; ``FAKE_CREDENTIALS`` are refused.
    """
    import boto3

    strict = start_moto({"INITIAL_NO_AUTH_ACTION_COUNT": "5"})  # the five set-up calls below
    try:
        anonymous = {
            "endpoint_url": strict.endpoint,
            "region_name": "us-east-1",
            "aws_access_key_id": "x",
            "aws_secret_access_key": "x",
        }
        iam = boto3.client("iam", **anonymous)
        iam.create_user(UserName="flyte-task")
        access = iam.create_access_key(UserName="flyte-task")["AccessKey"]
        allow = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
        policy = json.dumps({"Version": "2012-10-17", "Statement": [allow]})
        iam.put_user_policy(UserName="flyte-task", PolicyName="s3", PolicyDocument=policy)
        s3 = boto3.client("s3", **anonymous)
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    except BaseException:
        stop(strict.process)
        raise
    secrets = {
        "aws_access_key_id": access["AccessKeyId"],
        "aws_secret_access_key": access["SecretAccessKey"],
    }
    return strict, secrets


stop = stop_process
"""Stop and reap an emulator process (``agenthost.testing.stop_process``)."""


BACKENDLESS_CANDIDATES = ("oci", "dropbox", "wandb", "lakefs", "tos", "abfs", "box")
"""Protocols fsspec knows whose packages the tests do not install; a server that should find
one without its backend allows them all (``AGENT_FILE_SENSOR_ALLOWED_SCHEMES``)."""


def protocol_without_backend() -> tuple[str, str]:
    """A protocol fsspec knows whose backend package is not installed here."""
    import importlib.util

    from fsspec.registry import known_implementations

    for protocol in BACKENDLESS_CANDIDATES:
        package = known_implementations.get(protocol, {}).get("class", "").split(".")[0]
        if package and importlib.util.find_spec(package) is None:
            return protocol, package
    pytest.skip("every candidate fsspec backend is installed")


def create(server: RunningServer, template: Any, values: dict[str, Any]) -> bytes:
    """CreateTask; returns the resource_meta bytes."""
    request = agent_pb2.CreateTaskRequest(
        template=template,
        inputs=make_inputs(template, values),
        output_prefix="s3://outputs/prefix",
    )
    response = server.async_stub.CreateTask(request, timeout=30)
    return bytes(response.resource_meta)


def get(server: RunningServer, task_type: str, meta: bytes) -> agent_pb2.Resource:
    """GetTask for ``task_type``; returns the Resource."""
    request = agent_pb2.GetTaskRequest(
        resource_meta=meta,
        task_category=agent_pb2.TaskCategory(name=task_type, version=0),
    )
    return server.async_stub.GetTask(request, timeout=60).resource


def file_sensor_template(**inputs: Any) -> Any:
    """A ``file_sensor`` template with the given interface (default ``path: str``)."""
    return make_template("file_sensor", inputs=inputs or {"path": str})


# -- fixtures (this folder's conftest.py imports them) ----------------------------------------


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """A moto S3 server shared by the session's tests (each test uses its own bucket)."""
    server = start_moto()
    try:
        yield server
    finally:
        stop(server.process)


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[GcsEmulator]:
    """A gcp-storage-emulator shared by the session's tests (each test uses its own bucket)."""
    emulator = start_gcs_emulator()
    try:
        yield emulator
    finally:
        stop(emulator.process)


@pytest.fixture
def s3_env(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """The current process's AWS environment pointed at the moto server."""
    for name in [n for n in os.environ if n.startswith(("AWS_", "_FSEC_"))]:
        monkeypatch.delenv(name)
    for name, value in moto_server.env.items():
        monkeypatch.setenv(name, value)
    return moto_server


_bucket_counter = iter(range(10**6))


@pytest.fixture
def bucket_name() -> str:
    """A bucket name no other test in this session uses."""
    return f"sensor-test-{os.getpid()}-{next(_bucket_counter)}"
