"""In-process checks of the CLI's shared option handling (``split_names``, ``PluginSelection``,
``ClientTLS``), ``agenthost run``'s typed ``RunOptions``, and the run package's pieces the
commands lean on (the channel builder, the one template builder, the output prefix)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agenthost import Resource, SyncAgentBase
from agenthost.cli.options import ClientTLS, PluginSelection, split_names
from agenthost.cli.run import RunOptions, UsageError, task_and_inputs
from agenthost.literals import literal_map_to_python
from agenthost.run.backends import LocalBackend
from agenthost.run.channels import CredentialsFileError, client_credentials, open_channel
from agenthost.run.lifecycle import run_blocking
from agenthost.run.templates import make_inputs, make_template


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (None, []),
        ([], []),
        (["a"], ["a"]),
        (["a,b", "c d", " ,e, "], ["a", "b", "c", "d", "e"]),
        (["", ","], []),
    ],
)
def test_split_names_flattens_repeats_commas_and_spaces(
    values: list[str] | None, expected: list[str]
) -> None:
    assert split_names(values) == expected


def test_plugin_selection_keeps_no_allow_as_everything() -> None:
    everything = PluginSelection.from_options(None, ["x,y"], ["m1", "m2"])
    assert everything == PluginSelection(allow=None, block=("x", "y"), modules=("m1", "m2"))
    assert PluginSelection.from_options(["a, b"], None, None).allow == ["a", "b"]


def test_client_cert_needs_its_key() -> None:
    assert ClientTLS().problem() is None
    assert ClientTLS(client_cert=Path("c"), client_key=Path("k")).problem() is None
    assert "must be given together" in (ClientTLS(client_cert=Path("c")).problem() or "")
    assert "must be given together" in (ClientTLS(client_key=Path("k")).problem() or "")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (RunOptions(task_type="t", protocol="v3"), "--protocol must be v1 or v2, not 'v3'"),
        (RunOptions(task_type="t", output="yaml"), "--output must be json or table"),
        (
            RunOptions(task_type="t", max_poll_interval=0),
            "--max-poll-interval must be a positive number of seconds",
        ),
        (RunOptions(), "give either TASK_TYPE or --template FILE"),
        (RunOptions(task_type="t", template_path=Path("x.pb")), "give either TASK_TYPE"),
        (RunOptions(template_path=Path("x.pb"), sql="select 1"), "--custom and --sql"),
        (RunOptions(task_type="t", endpoint="localhost"), "must be HOST:PORT"),
        (
            RunOptions(task_type="t", endpoint="h:1", tls=ClientTLS(client_cert=Path("c"))),
            "--client-cert and --client-key must be given together",
        ),
        (
            RunOptions(task_type="t", endpoint="h:1", insecure=True, tls=ClientTLS(Path("ca"))),
            "--insecure cannot be combined",
        ),
    ],
)
def test_run_options_refuse_what_no_run_can_use(options: RunOptions, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        options.check()


def test_an_empty_endpoint_means_in_process() -> None:
    RunOptions(task_type="t", endpoint="").check()  # AGENTHOST_ENDPOINT="" as unset


def test_a_task_type_naming_a_template_file_reads_that_file(tmp_path: Path) -> None:
    path = tmp_path / "task.json"
    path.write_text('{"type": "from_file", "id": {"name": "n"}}')
    options = RunOptions(task_type=str(path))
    options.check()
    assert options.template_source() == (None, path)
    template, _ = task_and_inputs(options)
    assert template.type == "from_file"
    assert RunOptions(task_type="missing.json").template_source() == ("missing.json", None)


@pytest.mark.parametrize(
    ("endpoint", "insecure", "tls", "plaintext"),
    [
        ("127.0.0.1:8000", None, ClientTLS(), True),
        ("[::1]:8000", None, ClientTLS(), True),
        ("localhost:8000", None, ClientTLS(ca_cert=Path("ca")), False),
        ("agents.example.com:443", None, ClientTLS(), False),
        ("agents.example.com:443", True, ClientTLS(), True),
        ("127.0.0.1:8000", False, ClientTLS(), False),
    ],
)
def test_plaintext_by_default_only_on_loopback(
    endpoint: str, insecure: bool | None, tls: ClientTLS, plaintext: bool
) -> None:
    assert RunOptions(endpoint=endpoint, insecure=insecure, tls=tls).plaintext is plaintext


def test_a_built_template_is_untyped_and_its_inputs_follow_the_values() -> None:
    options = RunOptions(
        task_type="t", custom='{"k": "v"}', sql="select 1", input_values=("n=3", "s=x")
    )
    template, inputs = task_and_inputs(options)
    assert not template.HasField("interface")
    assert (template.id.project, template.id.name) == ("local", "agenthost-run.t")
    assert template.sql.statement == "select 1"
    assert dict(template.custom) == {"k": "v"}
    assert literal_map_to_python(inputs, None, kind="input") == {"n": 3, "s": "x"}


def test_make_template_serves_both_callers() -> None:
    typed = make_template("t", inputs={"a": int}, outputs={"b": str})
    assert list(typed.interface.inputs.variables) == ["a"]
    assert typed.id.project == "flytesnacks"
    assert list(make_inputs(typed, {"a": 1}).literals) == ["a"]
    untyped = make_template("t", typed=False)
    assert not untyped.HasField("interface")
    assert make_inputs(untyped, {"x": [1, 2]}).literals["x"].HasField("collection")
    with pytest.raises(ValueError, match="untyped"):
        make_template("t", inputs={"a": int}, typed=False)


def test_unreadable_certificate_names_its_option(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text("not read further")
    with pytest.raises(CredentialsFileError, match=r"^--client-cert .*missing\.pem: "):
        client_credentials(client_cert=tmp_path / "missing.pem", client_key=key)


def test_open_channel_is_plaintext_without_credentials() -> None:
    channel = open_channel("127.0.0.1:1", server_name="agents.example.com")
    channel.close()


class _EchoPrefix(SyncAgentBase):
    def __init__(self) -> None:
        super().__init__("echo_prefix")

    def do(
        self, task_template: Any, inputs: Any = None, output_prefix: str = "", **kwargs: Any
    ) -> Resource:
        return Resource.succeeded({"prefix": output_prefix})


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        (None, "file:///tmp/agenthost-run/n"),
        ("s3://bucket/runs/", "s3://bucket/runs/n"),
    ],
)
def test_the_output_prefix_is_configurable(base: str | None, expected: str) -> None:
    template = make_template("echo_prefix", typed=False, name="n")
    kwargs = {} if base is None else {"output_prefix": base}
    result = run_blocking(lambda: LocalBackend.for_agents([_EchoPrefix()], **kwargs), template)
    assert result.outputs == {"prefix": expected}
