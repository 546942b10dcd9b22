"""``agenthost.testing``: its modules behind one front, a real ``agenthost serve`` subprocess
started and stopped, the CLI as a subprocess, and the pytest plugin's fixtures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import agenthost.testing
from agenthost.testing import (
    RunningServer,
    ServerProcess,
    pythonpath_env,
    run_cli,
    serve_command,
    start_server,
    stop_process,
)


def test_start_server_waits_for_the_serving_line_and_stops_the_server() -> None:
    server = start_server(serve_command())
    try:
        assert server.address.startswith("127.0.0.1:")
        assert server.port > 0
        assert server.process.poll() is None
        assert "agenthost serving on" in server.logs()
    finally:
        code = server.stop()
    assert code == 0
    assert server.process.poll() == 0


def test_start_server_reports_a_server_that_does_not_start() -> None:
    with pytest.raises(RuntimeError, match="did not start") as info:
        start_server(serve_command("--modules", "no_such_module_for_agenthost", "--strict"))
    assert "no_such_module_for_agenthost" in str(info.value)


def test_every_public_name_comes_from_its_module_and_one_server_class_remains() -> None:
    for name in agenthost.testing.__all__:
        value = getattr(agenthost.testing, name)
        assert value is not None, name
    assert RunningServer is ServerProcess
    from agenthost.server.process import SERVING_PREFIX

    assert agenthost.testing.SERVING_LINE_PREFIX == f"{SERVING_PREFIX} "
    with pytest.raises(AttributeError, match="no_such_name"):
        agenthost.testing.no_such_name


def test_importing_the_kit_or_its_plugin_imports_neither_grpc_nor_the_server() -> None:
    code = (
        "import sys, agenthost.testing, agenthost.testing.pytest_plugin; "
        "print(sorted(m for m in ('grpc', 'agenthost.server.app', 'agenthost.testing.server') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_pythonpath_env_puts_the_folders_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", "/already/there")
    env = pythonpath_env(tmp_path, "other", EXTRA="1")
    assert env == {"PYTHONPATH": f"{tmp_path}:other:/already/there", "EXTRA": "1"}
    monkeypatch.delenv("PYTHONPATH")
    assert pythonpath_env(tmp_path) == {"PYTHONPATH": str(tmp_path)}


def test_run_cli_runs_the_cli_with_modules_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "kit_probe_agents.py").write_text(
        "from agenthost import AgentRegistry, Resource, SyncAgentBase\n"
        "class Probe(SyncAgentBase):\n"
        "    def __init__(self):\n"
        "        super().__init__('kit_probe', name='KitProbe')\n"
        "    async def do(self, task_template, **kwargs):\n"
        "        return Resource.succeeded({})\n"
        "AgentRegistry.register(Probe())\n"
    )
    result = run_cli("check", "--modules", "kit_probe_agents", env=pythonpath_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 plugin(s) loaded with 1 agent(s), 0 failed" in result.stdout
    failed = run_cli("check", "--modules", "kit_probe_agents", "--strict")
    assert failed.returncode != 0


def test_stop_process_stops_a_process_that_leads_no_group() -> None:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert stop_process(process, timeout=10) != 0
    assert process.poll() is not None


PLUGIN_TESTS = """
import sys


def test_the_plugin_imported_nothing_heavy():
    assert "grpc" not in sys.modules


def test_fixtures(agenthost_port, agenthost_template, agenthost_inputs, agenthost_certificates):
    assert 0 < agenthost_port < 65536
    template = agenthost_template("kit", inputs={"x": int})
    assert agenthost_inputs(template, {"x": 3}).literals["x"].scalar.primitive.integer == 3
    assert agenthost_certificates.ca.read_bytes().startswith(b"-----BEGIN CERTIFICATE")


def test_servers_over_tls_and_stopped_afterwards(agenthost_server, agenthost_certificates):
    from grpc_health.v1 import health_pb2

    certs = agenthost_certificates
    server = agenthost_server(*certs.serve_args(), credentials=certs.client_credentials())
    health = server.health_stub.Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    STARTED.append(server)


def test_the_server_was_stopped():
    assert STARTED[0].process.poll() is not None


def test_tripwire(agenthost_tripwire):
    import urllib.request

    urllib.request.urlopen(agenthost_tripwire.url + "/hit", timeout=5).close()
    assert agenthost_tripwire.requests == ["GET /hit"]


STARTED = []
"""


def test_the_pytest_plugin_gives_its_fixtures_without_a_conftest(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_with_the_kit=PLUGIN_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=5)
