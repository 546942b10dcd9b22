"""The wheels, installed as a user would, list, validate and serve every bundled agent."""

from __future__ import annotations

import json
import re
import subprocess
import venv
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import agent_pb2
from flyteidl.core.execution_pb2 import TaskExecution

from agenthost.testing import make_inputs, make_template, run_cli, running_server, wait_for

FIRST_PARTY = {
    "agent-bigquery": {("bigquery_query_job_task", 0, False)},
    "agent-databricks": {("spark", 0, False), ("databricks", 0, False)},
    "agent-file-sensor": {("file_sensor", 0, False)},
    "agent-openai": {("chatgpt", 0, True), ("openai-batch", 0, False)},
    "agent-snowflake": {("snowflake", 0, False)},
}


def test_every_first_party_plugin_loads_from_its_wheel() -> None:
    result = run_cli("plugins", "--json")
    assert result.returncode == 0, result.stderr
    plugins = json.loads(result.stdout)["plugins"]
    loaded = {p["distribution"] for p in plugins if p["status"] == "loaded"}
    assert loaded == {*FIRST_PARTY, "agenthost"}
    assert [p for p in plugins if p["status"] != "loaded"] == []
    check = run_cli("check", "--strict")
    assert check.returncode == 0, check.stdout
    assert "0 failed" in check.stdout


def test_each_distribution_ships_its_type_information() -> None:
    from importlib.resources import files

    for package in (
        "agenthost",
        "agent_bigquery",
        "agent_openai",
        "agent_file_sensor",
        "agent_snowflake",
    ):
        assert files(package).joinpath("py.typed").is_file(), package


def test_the_server_advertises_every_bundled_task_type() -> None:
    with running_server() as server:
        listed = server.metadata_stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=10)
        served = {
            (c.name, c.version, a.is_sync)
            for a in listed.agents
            for c in a.supported_task_categories
        }
        for task_types in FIRST_PARTY.values():
            assert task_types <= served
        assert ("sensor", 0, False) in served
        for agent in listed.agents:
            assert list(agent.supported_task_types) == [
                c.name for c in agent.supported_task_categories
            ]


@pytest.mark.parametrize("flytekit_shape", [False, True], ids=["file_sensor", "flytekit-sensor"])
def test_a_file_sensor_task_runs_until_the_file_appears(
    tmp_path: Path, flytekit_shape: bool
) -> None:
    flag = tmp_path / "ready.flag"
    if flytekit_shape:
        template = make_template(
            "sensor",
            inputs={"path": str},
            custom={"sensor_module": "flytekit.sensor.file_sensor", "sensor_name": "FileSensor"},
        )
    else:
        template = make_template("file_sensor", inputs={"path": str})
    with running_server() as server:
        stub = server.async_stub
        created = stub.CreateTask(
            agent_pb2.CreateTaskRequest(
                template=template,
                inputs=make_inputs(template, {"path": str(flag)}),
                output_prefix=str(tmp_path),
            ),
            timeout=10,
        )
        get = agent_pb2.GetTaskRequest(
            task_category=agent_pb2.TaskCategory(name=template.type, version=0),
            resource_meta=created.resource_meta,
        )
        waiting = stub.GetTask(get, timeout=10).resource
        assert waiting.phase == TaskExecution.RUNNING
        assert str(flag) in waiting.message
        flag.touch()
        done = wait_for(
            lambda: (
                (r := stub.GetTask(get, timeout=10).resource).phase == TaskExecution.SUCCEEDED and r
            )
        )
        assert done.phase == TaskExecution.SUCCEEDED
        stub.DeleteTask(
            agent_pb2.DeleteTaskRequest(
                task_category=get.task_category, resource_meta=created.resource_meta
            ),
            timeout=10,
        )


def test_propeller_config_routes_every_bundled_task_type() -> None:
    result = run_cli("propeller-config")
    assert result.returncode == 0, result.stderr
    routed = set(re.findall(r"^ +([\w-]+): connector-service$", result.stdout, re.MULTILINE))
    for task_types in FIRST_PARTY.values():
        assert {name for name, _, _ in task_types} <= routed


def test_unknown_task_type_is_not_found_and_the_server_keeps_serving() -> None:
    with running_server() as server:
        with pytest.raises(grpc.RpcError) as info:
            server.async_stub.GetTask(
                agent_pb2.GetTaskRequest(task_type="no_such_type", resource_meta=b"{}"), timeout=10
            )
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        assert "no_such_type" in (info.value.details() or "")
        assert server.metadata_stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=10).agents


def test_a_fresh_install_of_host_and_one_plugin_lists_only_that_plugin(
    tmp_path: Path, wheelhouse: Path
) -> None:
    env_dir = tmp_path / "user-env"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "-q",
            "--find-links",
            str(wheelhouse),
            "agenthost",
            "agent-file-sensor",
        ],
        check=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    result = run_cli("plugins", "--json", python=python)
    assert result.returncode == 0, result.stderr
    plugins = json.loads(result.stdout)["plugins"]
    assert {p["distribution"] for p in plugins} == {"agent-file-sensor", "agenthost"}
    assert all(p["status"] == "loaded" for p in plugins)
