"""``agenthost run`` as a user runs it: a subprocess, its progress read from stderr as it is
printed, its outputs from stdout, its exit code."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_kit import CLI_ENV, MODULES, CliProcess
from flyteidl.admin import task_pb2
from google.protobuf import json_format

from agenthost.testing import RunningServer, make_inputs, make_template, run_cli

FAST = ("--max-poll-interval", "0.1")


def running(line: str) -> bool:
    return "RUNNING" in line


def assert_clean(stderr: str) -> None:
    """No traceback and no internal paths leak to the user."""
    assert "Traceback" not in stderr
    assert "site-packages" not in stderr


# -- a sensor whose file appears mid-run --------------------------------------------------


def test_sensor_in_process_succeeds_once_the_file_appears(
    live: Callable[..., CliProcess], tmp_path: Path
) -> None:
    ready = tmp_path / "ready"
    proc = live("run", "people_file_sensor", *MODULES, "--input", f"path={ready}", *FAST)
    line = proc.wait_for_line(running)
    assert "waiting for WaitFileSensor" in line
    assert not ready.exists()
    ready.touch()
    assert proc.finish() == 0, proc.err
    assert "SUCCEEDED" in proc.err
    assert proc.err.index("RUNNING") < proc.err.index("SUCCEEDED")
    assert json.loads(proc.stdout) == {}
    assert_clean(proc.err)


def test_sensor_against_a_server_succeeds_once_the_file_appears(
    live: Callable[..., CliProcess], cli_server: RunningServer, tmp_path: Path
) -> None:
    ready = tmp_path / "ready"
    # flytekit's generic ``sensor`` task type, routed by the sensor's alias on the server.
    proc = live(
        "run",
        "sensor",
        "--endpoint",
        cli_server.address,
        "--custom",
        json.dumps({"sensor_module": "people.sensors", "sensor_name": "WaitFileSensor"}),
        "--input",
        f"path={ready}",
        *FAST,
    )
    proc.wait_for_line(running)
    ready.touch()
    assert proc.finish() == 0, proc.err
    assert f"running sensor (v0) {cli_server.address}" in proc.err
    assert "SUCCEEDED" in proc.err
    assert_clean(proc.err)


# -- Ctrl-C deletes the task ------------------------------------------------------------


def test_ctrl_c_in_process_deletes_the_task(
    live: Callable[..., CliProcess], tmp_path: Path
) -> None:
    marker = tmp_path / "deleted"
    proc = live(
        "run", "people_forever", *MODULES, "--custom", json.dumps({"marker": str(marker)}), *FAST
    )
    proc.wait_for_line(running)
    assert not marker.exists()
    proc.process.send_signal(signal.SIGINT)
    assert proc.finish() == 130, proc.err
    assert marker.read_text() == "deleted"
    assert "the task was deleted" in proc.err
    assert proc.stdout == ""
    assert_clean(proc.err)


def test_ctrl_c_against_a_server_deletes_the_task(
    live: Callable[..., CliProcess], cli_server: RunningServer, tmp_path: Path
) -> None:
    marker = tmp_path / "deleted-remote"
    proc = live(
        "run",
        "people_forever",
        "--endpoint",
        cli_server.address,
        "--custom",
        json.dumps({"marker": str(marker)}),
        *FAST,
    )
    proc.wait_for_line(running)
    proc.process.send_signal(signal.SIGINT)
    assert proc.finish() == 130, proc.err
    assert marker.read_text() == "deleted"  # written by the server's agent
    assert_clean(proc.err)


# -- outputs, failures and exit codes ---------------------------------------------------


def test_async_agent_outputs_as_json() -> None:
    done = run_cli("run", "people_sum", *MODULES, "-i", "a=2", "-i", "b=40", env=CLI_ENV)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"total": 42}
    assert "SUCCEEDED" in done.stderr


def test_sync_agent_with_custom_and_table_output(cli_server: RunningServer) -> None:
    args = ("people_shout", "-i", "text=hello", "--custom", '{"suffix": "!"}', "-o", "table")
    for where in (MODULES, ("--endpoint", cli_server.address)):
        done = run_cli("run", *args, *where, env=CLI_ENV)
        assert done.returncode == 0, done.stderr
        assert "out" in done.stdout
        assert '"HELLO!"' in done.stdout


def test_outputs_and_messages_are_printed_as_written_not_as_markup(tmp_path: Path) -> None:
    # An output holding "[/x]" made the table raise a rich MarkupError (a traceback after the
    # task succeeded); ":smile:" became an emoji, in the table and in error messages alike.
    text = "[/x] [bold]b :smile:"
    done = run_cli(
        "run", "people_shout", "-i", f"text={text}", "-o", "table", *MODULES, env=CLI_ENV
    )
    assert done.returncode == 0, done.stderr
    assert '"[/X] [BOLD]B :SMILE:"' in done.stdout
    assert_clean(done.stderr)
    missing = tmp_path / ":smile:.json"
    done = run_cli("run", "--template", str(missing), *MODULES, env=CLI_ENV)
    assert done.returncode == 2
    assert f"cannot read template {missing}:" in done.stderr


def test_sql_task_of_a_given_version() -> None:
    done = run_cli(
        "run", "people_sql", "--task-type-version", "2", "--sql", "SELECT 1", *MODULES, env=CLI_ENV
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"statement": "SELECT 1", "dialect": 1}
    assert "running people_sql (v2) in-process" in done.stderr
    wrong = run_cli("run", "people_sql", "--sql", "SELECT 1", *MODULES, env=CLI_ENV)
    assert wrong.returncode == 2
    assert "served versions: 2" in wrong.stderr


def test_failed_task_exits_1_with_its_message() -> None:
    done = run_cli("run", "people_sum", *MODULES, "--inputs", '{"a": 1, "b": -5}', env=CLI_ENV)
    assert done.returncode == 1
    assert "FAILED" in done.stderr
    assert "negative total -4" in done.stderr
    assert done.stdout == ""
    assert_clean(done.stderr)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("no_such_type",), "no agent serves task type 'no_such_type'"),
        (("people_sum", "--custom", "{not json"), "--custom is not valid JSON"),
        (("people_sum", "--custom", "[1]"), "--custom must be a JSON object"),
        (("people_sum", "--input", "novalue"), "is not NAME=VALUE"),
        ((), "give either TASK_TYPE or --template"),
        (("people_sum", "--template", "x.pb"), "give either TASK_TYPE or --template"),
        (("--template", "/no/such/template.pb"), "cannot read template"),
        (("people_sum", "--output", "xml"), "--output must be json or table"),
        (("people_file_sensor", "-i", "file=x"), "missing input(s): path"),
        # grpc dialled port 443 for "localhost:" and wrapped 99999 to another port.
        (("people_sum", "--endpoint", "localhost:"), "'' is not a port number (1-65535)"),
        (("people_sum", "--endpoint", "localhost:99999"), "'99999' is not a port number"),
        (("people_sum", "--endpoint", "localhost:abc"), "'abc' is not a port number"),
        (("people_sum", "--endpoint", ":8000"), "--endpoint ':8000' names no host"),
        # nan passed every check; 0 and negative deadlines failed as DEADLINE_EXCEEDED.
        (("people_sum", "--timeout", "nan"), "--timeout must be a positive number of seconds"),
        (("people_sum", "--max-poll-interval", "inf"), "--max-poll-interval must be a positive"),
        (
            ("people_sum", "--endpoint", "127.0.0.1:1", "--rpc-timeout", "-1"),
            "--rpc-timeout must be a positive number of seconds (got -1)",
        ),
    ],
)
def test_usage_errors_exit_2_with_a_clear_message(args: tuple[str, ...], message: str) -> None:
    done = run_cli("run", *args, *MODULES, env=CLI_ENV)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert_clean(done.stderr)


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("--timeout", "nan"), {}, "--timeout must be a positive number of seconds (got nan)"),
        ((), {"AGENTHOST_HEALTH_TIMEOUT": "0"}, "--timeout must be a positive number of seconds"),
        (("--endpoint", "127.0.0.1:"), {}, "'' is not a port number (1-65535)"),
    ],
)
def test_health_names_a_bad_setting_instead_of_reporting_unhealthy(
    args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    # These were "DEADLINE_EXCEEDED" or "UNAVAILABLE" (exit 1): a probe misconfigured for good
    # looked like a server that never became healthy.
    done = run_cli("health", *args, env={**CLI_ENV, **env})
    assert done.returncode == 2, done.stderr
    assert message in " ".join(done.stderr.replace("│", " ").split())
    assert_clean(done.stderr)


def test_unknown_task_type_names_what_is_served() -> None:
    done = run_cli("run", "no_such_type", *MODULES, env=CLI_ENV)
    assert "people_sum (v0)" in done.stderr


def test_unknown_task_type_on_a_server_is_a_usage_error(cli_server: RunningServer) -> None:
    done = run_cli("run", "no_such_type", "--endpoint", cli_server.address, env=CLI_ENV)
    assert done.returncode == 2
    assert "no agent serves task type 'no_such_type'" in done.stderr


def test_unreachable_endpoint_exits_1() -> None:
    done = run_cli(
        "run", "people_sum", "--endpoint", "127.0.0.1:1", "--rpc-timeout", "5", env=CLI_ENV
    )
    assert done.returncode == 1
    assert "cannot reach 127.0.0.1:1" in done.stderr
    assert_clean(done.stderr)


def test_timeout_deletes_and_exits_1(tmp_path: Path) -> None:
    marker = tmp_path / "deleted"
    done = run_cli(
        "run",
        "people_forever",
        *MODULES,
        "--custom",
        json.dumps({"marker": str(marker)}),
        "--timeout",
        "0.5",
        *FAST,
        env=CLI_ENV,
    )
    assert done.returncode == 1
    assert "did not finish within 0.5 s" in done.stderr
    assert marker.read_text() == "deleted"


# -- templates from files ----------------------------------------------------------------


SUM_TEMPLATE = make_template("people_sum", inputs={"a": int, "b": int}, outputs={"total": int})


@pytest.mark.parametrize("form", ["template.pb", "spec.pb", "template.json", "task.json"])
def test_template_files_type_the_inputs(tmp_path: Path, form: str) -> None:
    path = tmp_path / form
    template_dict = json_format.MessageToDict(SUM_TEMPLATE)
    if form == "template.pb":
        path.write_bytes(SUM_TEMPLATE.SerializeToString())
    elif form == "spec.pb":  # what pyflyte serialize writes
        path.write_bytes(task_pb2.TaskSpec(template=SUM_TEMPLATE).SerializeToString())
    elif form == "template.json":
        path.write_text(json.dumps(template_dict))
    else:  # flytectl get task -o json
        path.write_text(
            json.dumps({"id": {}, "closure": {"compiledTask": {"template": template_dict}}})
        )
    # "7" is typed as an integer by the interface; the typed output comes back as a number.
    done = run_cli("run", "--template", str(path), *MODULES, "-i", "a=7", "-i", "b=8", env=CLI_ENV)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"total": 15}


def test_template_input_of_the_wrong_type_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "t.pb"
    path.write_bytes(SUM_TEMPLATE.SerializeToString())
    done = run_cli("run", str(path), *MODULES, "-i", "a=seven", "-i", "b=8", env=CLI_ENV)
    assert done.returncode == 2, done.stderr
    assert "input 'a'" in done.stderr
    assert_clean(done.stderr)


def test_inputs_as_a_literal_map_json(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(json_format.MessageToJson(SUM_TEMPLATE))
    literal_map = json_format.MessageToDict(make_inputs(SUM_TEMPLATE, {"a": 20, "b": 22}))
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps(literal_map))
    done = run_cli("run", "-t", str(path), "--inputs", f"@{inputs}", *MODULES, env=CLI_ENV)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"total": 42}


def test_not_a_template_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text('{"nonsense": 1}')
    done = run_cli("run", "-t", str(path), *MODULES, env=CLI_ENV)
    assert done.returncode == 2
    assert "is not a flyteidl TaskTemplate" in done.stderr


# -- --protocol v2 (as the Flyte 2 executor) ---------------------------------------------


def test_run_over_v2_async_sync_and_errors(cli_server: RunningServer) -> None:
    v2 = ("--endpoint", cli_server.address, "--protocol", "v2")
    done = run_cli("run", "people_sum", *v2, "-i", "a=2", "-i", "b=40", env=CLI_ENV)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"total": 42}
    # a sync agent runs through CreateTask on v2; GetTask returns its result
    done = run_cli(
        "run", "people_shout", *v2, "-i", "text=hello", "--custom", '{"suffix": "!"}', env=CLI_ENV
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"out": "HELLO!"}
    done = run_cli("run", "no_such_type", *v2, env=CLI_ENV)
    assert done.returncode == 2 and "no agent serves task type 'no_such_type'" in done.stderr
    done = run_cli(
        "run", "people_sum", "--endpoint", cli_server.address, "--protocol", "v3", env=CLI_ENV
    )
    assert done.returncode == 2 and "--protocol must be v1 or v2" in done.stderr


def test_ctrl_c_over_v2_deletes_the_task(
    live: Callable[..., CliProcess], cli_server: RunningServer, tmp_path: Path
) -> None:
    marker = tmp_path / "deleted-v2"
    proc = live(
        "run",
        "people_forever",
        "--endpoint",
        cli_server.address,
        "--protocol",
        "v2",
        "--custom",
        json.dumps({"marker": str(marker)}),
        *FAST,
    )
    proc.wait_for_line(running)
    proc.process.send_signal(signal.SIGINT)
    assert proc.finish() == 130, proc.err
    assert marker.read_text() == "deleted"
    assert_clean(proc.err)
