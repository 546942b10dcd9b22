"""The lifecycle driver in-process: ``agenthost.testing.run_lifecycle`` / ``run_on_server`` and the
template and input helpers of ``agenthost.run`` (``agenthost.runner`` keeps re-exporting them)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from fake_plugins import cli_agents
from flyteidl.admin import task_pb2

from agenthost import InvalidRequestError
from agenthost.run.lifecycle import Backoff, RemoteCallError, RunTimeout, Status
from agenthost.run.taskfiles import TemplateError, load_template, parse_input_assignments
from agenthost.testing import RunningServer, make_template, run_lifecycle, run_on_server

SUM = make_template("people_sum", inputs={"a": int, "b": int}, outputs={"total": int})


def test_async_agent_runs_to_success_with_typed_outputs() -> None:
    result = run_lifecycle(cli_agents.SumJob(), SUM, {"a": 1, "b": 2})
    assert result.succeeded
    assert result.phase_name == "SUCCEEDED"
    assert result.outputs == {"total": 3}
    assert [s.phase_name for s in result.statuses] == ["SUCCEEDED"]


def test_failure_is_a_phase_not_an_exception() -> None:
    result = run_lifecycle(cli_agents.SumJob(), SUM, {"a": 1, "b": -3})
    assert not result.succeeded
    assert result.phase_name == "FAILED"
    assert result.message == "negative total -2"


def test_sync_agent_is_called_once() -> None:
    template = make_template("people_shout", inputs={"text": str}, outputs={"out": str})
    result = run_lifecycle(cli_agents.ShoutSync(), template, {"text": "hey"})
    assert result.outputs == {"out": "HEY"}
    assert len(result.statuses) == 1


def test_sensor_sees_the_file_created_while_running(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    seen: list[Status] = []

    def on_status(status: Status) -> None:
        seen.append(status)
        if status.phase_name == "RUNNING":
            ready.touch()

    template = make_template("people_file_sensor", inputs={"path": str})
    result = run_lifecycle(
        cli_agents.WaitFileSensor(), template, {"path": str(ready)}, on_status=on_status
    )
    assert [s.phase_name for s in seen] == ["RUNNING", "SUCCEEDED"]
    assert seen[0].message == f"waiting for WaitFileSensor(path={ready})"
    assert result.statuses == seen
    assert seen[0].elapsed <= seen[1].elapsed


def test_sensor_alias_routes_through_the_sensor_router(tmp_path: Path) -> None:
    template = make_template(
        "sensor",
        inputs={"path": str},
        custom={"sensor_module": "people.sensors", "sensor_name": "WaitFileSensor"},
    )
    result = run_lifecycle(cli_agents.WaitFileSensor(), template, {"path": str(tmp_path)})
    assert result.succeeded


def test_timeout_deletes_the_task(tmp_path: Path) -> None:
    marker = tmp_path / "deleted"
    template = make_template("people_forever", custom={"marker": str(marker)})
    with pytest.raises(RunTimeout, match=r"did not finish within 0\.3 s"):
        run_lifecycle(cli_agents.ForeverJob(), template, timeout=0.3)
    assert marker.read_text() == "deleted"


def test_bad_inputs_raise_the_hosts_error() -> None:
    with pytest.raises(InvalidRequestError, match=r"input .b."):
        run_lifecycle(cli_agents.SumJob(), SUM, {"a": 1})


def test_run_on_server_uses_the_grpc_calls(cli_server: RunningServer, tmp_path: Path) -> None:
    assert run_on_server(cli_server, SUM, {"a": 40, "b": 2}).outputs == {"total": 42}
    shout = make_template("people_shout", inputs={"text": str}, outputs={"out": str})
    assert run_on_server(cli_server.address, shout, {"text": "x"}).outputs == {"out": "X"}
    with pytest.raises(RemoteCallError) as caught:
        run_on_server(cli_server, make_template("nobody_serves_this"))
    assert caught.value.code == "NOT_FOUND"


def test_run_on_server_over_v2(cli_server: RunningServer) -> None:
    assert run_on_server(cli_server, SUM, {"a": 1, "b": 2}, protocol="v2").outputs == {"total": 3}
    shout = make_template("people_shout", inputs={"text": str}, outputs={"out": str})
    result = run_on_server(cli_server, shout, {"text": "y"}, protocol="v2")
    assert result.outputs == {"out": "Y"}  # a sync agent through CreateTask, then GetTask
    with pytest.raises(RemoteCallError) as caught:
        run_on_server(cli_server, make_template("nobody_serves_this"), protocol="v2")
    assert caught.value.code == "NOT_FOUND"
    with pytest.raises(ValueError, match="protocol"):
        run_on_server(cli_server, SUM, {"a": 1, "b": 2}, protocol="v9")


def test_backoff_grows_to_its_maximum() -> None:
    delays = list(itertools.islice(Backoff(0.1, 2.0, 0.5).delays(), 5))
    assert delays == [0.1, 0.2, 0.4, 0.5, 0.5]


def test_load_template_reads_every_form(tmp_path: Path) -> None:
    spec = tmp_path / "spec.pb"
    spec.write_bytes(task_pb2.TaskSpec(template=SUM).SerializeToString())
    bare = tmp_path / "bare.pb"
    bare.write_bytes(SUM.SerializeToString())
    assert load_template(spec) == SUM
    assert load_template(bare) == SUM


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe garbage", "is not a protobuf TaskTemplate or TaskSpec"),
        (b"", "holds no task template"),
        (b"[1, 2]", "does not hold a JSON object"),
        (b"{oops", "is not valid JSON"),
        (b'{"type": 5, "custom": []}', "is not a flyteidl TaskTemplate"),
    ],
)
def test_load_template_rejects_what_is_not_a_template(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "t.pb"
    path.write_bytes(content)
    with pytest.raises(TemplateError, match=message):
        load_template(path)


def test_input_assignments_keep_declared_strings_as_text() -> None:
    template = make_template("t", inputs={"code": str, "n": int})
    values = parse_input_assignments(["code=007", "n=7"], template)
    assert values == {"code": "007", "n": 7}
    assert parse_input_assignments(["x=[1, 2]", "y=hello", "z="], None) == {
        "x": [1, 2],
        "y": "hello",
        "z": "",
    }
    with pytest.raises(TemplateError, match="is not NAME=VALUE"):
        parse_input_assignments(["=3"], None)


def test_the_old_runner_module_re_exports_the_run_package() -> None:
    import agenthost.runner
    from agenthost.run import backends, lifecycle, remote, taskfiles, templates

    assert agenthost.runner.run_task is lifecycle.run_task
    assert agenthost.runner.LocalBackend is backends.LocalBackend
    assert agenthost.runner.RemoteBackend is remote.RemoteBackend
    assert agenthost.runner.load_template is taskfiles.load_template
    assert agenthost.runner.make_inputs is templates.make_inputs
