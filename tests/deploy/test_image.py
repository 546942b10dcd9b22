"""The container image's install steps (deploy/image/install.py, which the Dockerfile runs),
run here into a fresh virtual environment: exactly the selected plugins, and the result
serves and reports healthy through ``agenthost health``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from deploy_kit import REPO
from flyteidl.admin import agent_pb2

from agenthost.testing import serving

INSTALL = REPO / "deploy" / "image" / "install.py"
SELECTED = ["agent-openai", "agent-file-sensor"]


def run(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def image_venv(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv set up exactly as the Dockerfile sets up /opt/agenthost."""
    venv = tmp_path_factory.mktemp("image") / "agenthost"
    result = run(
        sys.executable, INSTALL, "install", "--wheelhouse", wheelhouse, "--venv", venv, *SELECTED
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verified agent-openai: chatgpt, openai-batch" in result.stdout
    assert "verified agent-file-sensor: file_sensor" in result.stdout
    return venv


def test_the_image_holds_exactly_the_selected_plugins(image_venv: Path) -> None:
    listing = run(image_venv / "bin" / "agenthost", "plugins", "--json")
    assert listing.returncode == 0, listing.stderr
    plugins = json.loads(listing.stdout)["plugins"]
    installed = {p["distribution"] for p in plugins if p["distribution"] != "agenthost"}
    assert installed == set(SELECTED)
    assert all(p["status"] == "loaded" for p in plugins)
    not_selected = run(image_venv / "bin" / "python", "-c", "import agent_bigquery")
    assert not_selected.returncode != 0
    assert "ModuleNotFoundError" in not_selected.stderr


def test_the_image_serves_and_reports_healthy(image_venv: Path) -> None:
    agenthost = str(image_venv / "bin" / "agenthost")
    command = [agenthost, "serve", "--host", "127.0.0.1", "--port", "0", "--metrics-port", "0"]
    with serving(command) as server:
        health = run(agenthost, "health", "--endpoint", server.address, timeout=60)
        assert health.returncode == 0, health.stderr
        assert health.stdout.strip() == "SERVING"
        agents = server.metadata_stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=10).agents
        served = {c.name for a in agents for c in a.supported_task_categories}
        assert {"chatgpt", "openai-batch", "file_sensor"} <= served
        assert "bigquery_query_job_task" not in served
        unknown = run(agenthost, "health", "--endpoint", server.address, "--service", "nope")
        assert unknown.returncode == 1
        assert unknown.stdout.strip() == "SERVICE_UNKNOWN"
    after = run(agenthost, "health", "--endpoint", server.address, "--timeout", "2")
    assert after.returncode == 1
    assert "UNAVAILABLE" in after.stderr


def test_verify_refuses_an_environment_with_other_plugins(image_venv: Path) -> None:
    result = run(sys.executable, INSTALL, "verify", "--venv", image_venv, "agent-openai")
    assert result.returncode == 1
    assert "are not the selected ['agent-openai']" in result.stderr


def test_an_unknown_plugin_is_refused_before_anything_is_installed(
    wheelhouse: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    result = run(
        sys.executable,
        INSTALL,
        "install",
        "--wheelhouse",
        wheelhouse,
        "--venv",
        venv,
        "agent-nope",
    )
    assert result.returncode == 1
    assert "unknown plugin 'agent-nope'" in result.stderr
    assert "agent-bigquery" in result.stderr
    assert not venv.exists()


def test_plugin_names_accept_short_names_extras_and_the_environment(
    install_script: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    known = set(install_script.repository_distributions())
    Selection = install_script.Selection
    assert install_script.parse_selection(["bigquery", "agent-file-sensor[s3]"], known) == [
        Selection("agent-bigquery"),
        Selection("agent-file-sensor", "[s3]"),
    ]
    monkeypatch.setenv("PLUGINS", "openai, agent_bigquery")
    assert install_script.parse_selection([], known) == [
        Selection("agent-openai"),
        Selection("agent-bigquery"),
    ]
    monkeypatch.setenv("PLUGINS", "")
    assert install_script.parse_selection([], known) == []


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", dockerfile)
    pairs = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), " ".join(rest.split())))
    return pairs


def test_the_dockerfile_runs_the_tested_install_steps() -> None:
    steps = _instructions((REPO / "Dockerfile").read_text())
    stages = [rest for keyword, rest in steps if keyword == "FROM"]
    assert len(stages) == 2 and stages[0].endswith("AS build") and stages[1].endswith("AS runtime")
    runs = " ".join(rest for keyword, rest in steps if keyword == "RUN")
    assert "deploy/image/install.py build --out /wheels ${PLUGINS}" in runs
    assert "install.py install --wheelhouse /wheels --venv /opt/agenthost ${PLUGINS}" in runs
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    runtime = steps[last_from:]
    assert ("COPY", "--from=build /opt/agenthost /opt/agenthost") in runtime
    assert not [rest for keyword, rest in runtime if keyword == "COPY" and "--from" not in rest]
    assert ("USER", "10001:10001") in runtime
    assert ("EXPOSE", "8000 9090") in runtime
    healthcheck = next(rest for keyword, rest in runtime if keyword == "HEALTHCHECK")
    assert 'CMD ["agenthost", "health"' in healthcheck
    assert ("ENTRYPOINT", '["agenthost", "serve"]') in runtime


def test_the_image_bundles_every_first_party_plugin_by_default(
    install_script: ModuleType,
) -> None:
    """Both stages' default ``PLUGINS`` name every plugin in plugins/ (not the template)."""
    first_party = {
        name
        for name, folder in install_script.repository_distributions().items()
        if folder.parent.name == "plugins" and not folder.name.startswith("_")
    }
    assert {"agent-snowflake", "agent-databricks"} <= first_party
    defaults = [
        rest.split("=", 1)[1].strip('"')
        for keyword, rest in _instructions((REPO / "Dockerfile").read_text())
        if keyword == "ARG" and rest.startswith("PLUGINS=")
    ]
    assert len(defaults) == 2
    for default in defaults:
        assert sorted(default.split()) == sorted(first_party)


def test_the_build_context_holds_what_the_dockerfile_copies() -> None:
    ignore = (REPO / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") :][:4] == ["*", "!host/", "!plugins/", "!deploy/image/"]
    copied = [
        rest.split()[0]
        for keyword, rest in _instructions((REPO / "Dockerfile").read_text())
        if keyword == "COPY" and "--from" not in rest
    ]
    assert copied == ["host/", "plugins/", "deploy/image/"]
