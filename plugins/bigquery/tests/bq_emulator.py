"""Build and run the ``bqemulator`` BigQuery emulator for the tests.

The emulator lives in its own virtual environment, built once from
``emulator-requirements.txt`` and cached (keyed on that file's hash and the interpreter) in
``$AGENTHOST_BQEMULATOR_VENV`` or ``plugins/bigquery/.emulator-venv``. DuckDB's spatial
extension is installed into it from the ``duckdb-extension-spatial`` wheel, under a ``HOME``
inside that directory, so DuckDB never tries to download it and nothing lands in the real home.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from agenthost.testing import stop_process

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "emulator-requirements.txt"
DEFAULT_VENV = HERE.parent / ".emulator-venv"
VENV_ENV = "AGENTHOST_BQEMULATOR_VENV"
PROJECT = "test-project"
DUCKDB_VERSION = "v1.5.5"
BUILD_TIMEOUT_S = 600.0
START_TIMEOUT_S = 60.0

_INSTALL_EXTENSIONS = f"""
import importlib, pathlib, duckdb
con = duckdb.connect()
for name in ("spatial", "avro"):
    try:
        pkg = importlib.import_module("duckdb_extension_" + name)
    except ImportError:
        continue
    folder = pathlib.Path(pkg.__file__).parent / "extensions" / "{DUCKDB_VERSION}"
    path = folder / (name + ".duckdb_extension")
    con.execute("INSTALL '" + str(path) + "'")
"""


class EmulatorError(RuntimeError):
    """The emulator could not be built or started; the message carries its output's tail."""


@dataclass(frozen=True)
class EmulatorVenv:
    """A built emulator environment."""

    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def executable(self) -> Path:
        return self.root / "bin" / "bqemulator"

    @property
    def home(self) -> Path:
        """``HOME`` for the emulator: DuckDB keeps its extensions under it."""
        return self.root / "home"

    @property
    def marker(self) -> Path:
        return self.root / ".built-from"


@dataclass(frozen=True)
class RunningEmulator:
    """A live emulator: REST endpoint (``BIGQUERY_EMULATOR_HOST`` value) and default project."""

    endpoint: str
    project: str
    log_path: Path

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


def venv_dir() -> Path:
    return Path(os.environ.get(VENV_ENV) or DEFAULT_VENV)


def build_key() -> str:
    """What a built venv depends on: the requirements and the base interpreter."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update(f"{sys.base_prefix}|{sys.version}".encode())
    return digest.hexdigest()


def _usable(venv: EmulatorVenv, wanted: str) -> bool:
    return (
        venv.marker.exists()
        and venv.marker.read_text().strip() == wanted
        and venv.python.resolve().exists()
        and venv.executable.exists()
    )


def _run(args: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(
        args,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        raise EmulatorError(f"{' '.join(args[:4])} ... failed:\n{result.stdout[-3000:]}")


def _uv() -> str | None:
    beside_python = Path(sys.executable).parent / "uv"
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("uv")


def ensure_venv() -> EmulatorVenv:
    """Return the emulator venv, building it first unless one built from the current
    requirements exists. Safe to call from concurrent test runs (a file lock serialises builds).
    """
    venv = EmulatorVenv(venv_dir())
    wanted = build_key()
    venv.root.parent.mkdir(parents=True, exist_ok=True)
    where = hashlib.sha256(str(venv.root.resolve()).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"agenthost-bqemulator-{where}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _usable(venv, wanted):
            return venv
        shutil.rmtree(venv.root, ignore_errors=True)
        _run([sys.executable, "-m", "venv", str(venv.root)])
        uv = _uv()
        if uv:
            _run([uv, "pip", "install", "--python", str(venv.python), "-r", str(REQUIREMENTS)])
        else:
            _run([str(venv.python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)])
        venv.home.mkdir(exist_ok=True)
        _run([str(venv.python), "-c", _INSTALL_EXTENSIONS], env=_emulator_env(venv))
        venv.marker.write_text(wanted + "\n")
    return venv


def _emulator_env(venv: EmulatorVenv) -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(HOME=str(venv.home), PYTHONUNBUFFERED="1", NO_COLOR="1")
    return env


def _rest_port(log_path: Path) -> int | None:
    """The REST port from the emulator's JSON ``rest.listen`` log event, once logged."""
    for line in log_path.read_text(errors="replace").splitlines():
        if '"rest.listen"' not in line:
            continue
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if event.get("event") == "rest.listen":
                return int(event["port"])
    return None


def _ready(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/readyz", timeout=2) as response:
            return response.status == 200 and bool(json.load(response).get("status") == "ok")
    except (OSError, ValueError, urllib.error.URLError):
        return False


@contextlib.contextmanager
def running_emulator(venv: EmulatorVenv, log_path: Path) -> Iterator[RunningEmulator]:
    """Start the emulator on free loopback ports, wait until ``/readyz`` says ok, yield it, and
    stop and reap it afterwards."""
    args = [
        str(venv.executable), "start",
        "--rest-host", "127.0.0.1", "--rest-port", "0",
        "--grpc-host", "127.0.0.1", "--grpc-port", "0",
        "--project", PROJECT, "--ephemeral", "--log-format", "json", "--log-level", "info",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            args,
            env=_emulator_env(venv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        endpoint = None
        while True:
            if process.poll() is not None:
                raise EmulatorError(f"bqemulator exited early:\n{log_path.read_text()[-3000:]}")
            if endpoint is None:
                port = _rest_port(log_path)
                endpoint = f"http://127.0.0.1:{port}" if port else None
            if endpoint is not None and _ready(endpoint):
                break
            if time.monotonic() > deadline:
                raise EmulatorError(f"bqemulator not ready:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        yield RunningEmulator(endpoint=endpoint, project=PROJECT, log_path=log_path)
    finally:
        stop_process(process, timeout=15.0)
