"""The ``openai-batch`` async agent against the fake OpenAI server, in process."""

from __future__ import annotations

import base64
import json
import pickle
import sys
import types
from dataclasses import dataclass
from typing import Any
from unittest import mock

import msgpack
import pytest
from fake_openai import FakeOpenAI
from flyteidl.core.literals_pb2 import Literal, LiteralMap
from google.protobuf import json_format
from openai_support import API_KEY, DATA, load_inputs, load_template, run

from agent_openai.batch import BatchCancelError, BatchEndpointAgent, BatchEndpointMetadata
from agent_openai.legacy import read_flytekit_metadata
from agenthost import Phase, ResourceMetaError
from agenthost.literals import to_literal_map
from agenthost.testing import make_template


def batch_template(**custom: Any) -> Any:
    return make_template(
        "openai-batch",
        inputs={"input_file_id": str},
        outputs={"result": dict},
        custom={"openai_organization": "org-test", "config": {}, **custom},
    )


def file_inputs(template: Any, file_id: str) -> Any:
    return to_literal_map({"input_file_id": file_id}, template.interface.inputs)


def create(template: Any, inputs: Any) -> BatchEndpointMetadata:
    meta = run(BatchEndpointAgent().create(template, inputs))
    # What propeller stores and hands back: the encoded bytes.
    return BatchEndpointMetadata.decode(meta.encode())


def get(meta: BatchEndpointMetadata) -> Any:
    return run(BatchEndpointAgent().get(meta))


def poll_until_terminal(meta: BatchEndpointMetadata, limit: int = 10) -> list[Any]:
    seen = []
    for _ in range(limit):
        resource = get(meta)
        seen.append(resource)
        if resource.phase != Phase.RUNNING:
            return seen
    raise AssertionError(f"still running after {limit} polls: {seen[-1].message}")


def test_flytekit_batch_runs_to_succeeded_with_the_batch_as_result(
    openai_env: FakeOpenAI,
) -> None:
    template = load_template("batch")
    before = template.SerializeToString(deterministic=True)

    meta = create(template, load_inputs("batch"))

    assert meta.batch_id.startswith("batch_")
    assert meta.openai_org == "org-fixture"
    assert json.loads(meta.encode())["batch_id"] == meta.batch_id
    assert template.SerializeToString(deterministic=True) == before  # defaults set on a copy
    [created] = [
        r
        for r in openai_env.received("/v1/batches")
        if r["method"] == "POST"
        and r["path"] == "/v1/batches"
        and r["body"]["metadata"] == {"purpose": "fixture"}
    ]
    assert created["body"] == {
        "completion_window": "24h",
        "endpoint": "/v1/chat/completions",
        "input_file_id": "file-in",
        "metadata": {"purpose": "fixture"},
    }
    assert created["headers"]["authorization"] == f"Bearer {API_KEY}"
    assert created["headers"]["openai-organization"] == "org-fixture"

    resources = poll_until_terminal(meta)

    assert [r.phase for r in resources] == [Phase.RUNNING] * 3 + [Phase.SUCCEEDED]
    assert [r.custom_info["status"] for r in resources] == [
        "validating",
        "in_progress",
        "finalizing",
        "completed",
    ]
    assert "0/2 requests done" in resources[0].message
    literal = resources[-1].outputs.literals["result"]
    assert literal.scalar.binary.tag == "msgpack"
    result = msgpack.unpackb(literal.scalar.binary.value)
    assert result["id"] == meta.batch_id
    assert result["status"] == "completed"
    assert result["output_file_id"] == f"file-out-{meta.batch_id}"
    assert result["request_counts"] == {"total": 2, "completed": 2, "failed": 0}


def test_result_literal_has_flytekits_shape() -> None:
    """Our encoding of a batch dict equals flytekit's literal for the same dict."""
    from agent_openai.status import batch_resource

    flytekit_literal = json_format.Parse(
        (DATA / "batch_result_literal.json").read_text(), Literal()
    )
    value = json.loads((DATA / "batch_result_value.json").read_text())

    class Batch:
        id = value["id"]
        status = "completed"
        request_counts = None
        output_file_id = value["output_file_id"]
        error_file_id = None

        def to_dict(self) -> Any:
            return value

    meta = BatchEndpointMetadata(openai_org=None, batch_id=value["id"])
    outputs = batch_resource(Batch(), meta, "").outputs
    assert isinstance(outputs, LiteralMap)
    ours = outputs.literals["result"]
    assert ours.scalar.binary.tag == flytekit_literal.scalar.binary.tag
    assert msgpack.unpackb(ours.scalar.binary.value) == msgpack.unpackb(
        flytekit_literal.scalar.binary.value
    )


@pytest.mark.parametrize(
    ("file_id", "expected"),
    [("file-fail", "Line 1 of the input file is not valid JSON."), ("file-expire", "expired")],
)
def test_failed_and_expired_batches_fail_with_the_batch_error(
    openai_env: FakeOpenAI, file_id: str, expected: str
) -> None:
    template = batch_template()
    meta = create(template, file_inputs(template, file_id))
    final = poll_until_terminal(meta)[-1]
    assert final.phase == Phase.FAILED
    assert expected in final.message
    assert final.outputs is None


def test_delete_cancels_once_and_is_idempotent(openai_env: FakeOpenAI) -> None:
    template = batch_template()
    meta = create(template, file_inputs(template, "file-cancel-me"))
    assert get(meta).phase == Phase.RUNNING

    run(BatchEndpointAgent().delete(meta))
    run(BatchEndpointAgent().delete(meta))

    cancels = openai_env.received(f"/v1/batches/{meta.batch_id}/cancel")
    assert len(cancels) == 1
    final = poll_until_terminal(meta)[-1]
    assert final.phase == Phase.FAILED
    assert "cancelled" in final.message


def test_delete_of_an_unknown_batch_is_not_an_error(openai_env: FakeOpenAI) -> None:
    before = len(openai_env.received("/v1/batches"))
    gone = BatchEndpointMetadata(openai_org=None, batch_id="batch_gone")
    assert run(BatchEndpointAgent().delete(gone)) is None
    asked = [(r["method"], r["path"]) for r in openai_env.received("/v1/batches")[before:]]
    assert asked == [("GET", "/v1/batches/batch_gone")]  # looked it up (404), cancelled nothing

    never_created = BatchEndpointMetadata(openai_org=None, batch_id="")
    assert run(BatchEndpointAgent().delete(never_created)) is None
    assert len(openai_env.received("/v1/batches")) == before + 1  # no request at all


def test_delete_of_a_batch_that_ends_before_the_cancel_succeeds(openai_env: FakeOpenAI) -> None:
    """The batch is finalizing when delete looks it up and completed when the cancel arrives:
    OpenAI refuses the cancel (409), which is no error (the batch is past running)."""
    template = batch_template()
    meta = create(template, file_inputs(template, "file-finishes"))
    assert get(meta).phase == Phase.RUNNING  # now in_progress
    assert get(meta).phase == Phase.RUNNING  # now finalizing; the next look-up completes it
    assert run(BatchEndpointAgent().delete(meta)) is None
    assert openai_env.received(f"/v1/batches/{meta.batch_id}/cancel")  # refused
    assert get(meta).phase == Phase.SUCCEEDED
    assert run(BatchEndpointAgent().delete(meta)) is None  # and again, without a cancel


def test_delete_refused_while_the_batch_still_runs_is_an_error(openai_env: FakeOpenAI) -> None:
    """A refused cancel (409) of a batch that is still running is a failed cancel, so that
    propeller tries again, not a success that leaves the batch running."""
    template = batch_template()
    meta = create(template, file_inputs(template, "file-cancel-conflict"))
    with pytest.raises(BatchCancelError, match="HTTP 409") as raised:
        run(BatchEndpointAgent().delete(meta))
    assert API_KEY not in str(raised.value)
    assert get(meta).phase == Phase.RUNNING


@pytest.mark.parametrize("batch_id", ["error-401", "error-500"])
def test_delete_that_cannot_reach_the_batch_raises_a_scrubbed_error(
    openai_env: FakeOpenAI, batch_id: str
) -> None:
    meta = BatchEndpointMetadata(openai_org=None, batch_id=batch_id)
    with pytest.raises(BatchCancelError, match=f"HTTP {batch_id[-3:]}") as raised:
        run(BatchEndpointAgent().delete(meta))
    assert API_KEY not in str(raised.value)


def test_create_rate_limited_reports_retryable_failed_on_get(openai_env: FakeOpenAI) -> None:
    template = batch_template()
    meta = create(template, file_inputs(template, "error-429"))
    assert meta.batch_id == ""
    resource = get(meta)
    assert resource.phase == Phase.RETRYABLE_FAILED
    assert "Rate limit reached" in resource.message
    run(BatchEndpointAgent().delete(meta))  # nothing to cancel


def test_create_with_a_bad_key_fails_without_the_key(openai_env: FakeOpenAI) -> None:
    template = batch_template()
    meta = create(template, file_inputs(template, "error-401"))
    resource = get(meta)
    assert resource.phase == Phase.FAILED
    assert "Incorrect API key provided" in resource.message
    assert API_KEY not in resource.message
    assert API_KEY not in meta.encode().decode()


def test_transient_errors_while_polling_keep_the_task_running(openai_env: FakeOpenAI) -> None:
    resource = get(BatchEndpointMetadata(openai_org=None, batch_id="error-500"))
    assert resource.phase == Phase.RUNNING
    assert "will check again" in resource.message

    resource = get(BatchEndpointMetadata(openai_org=None, batch_id="error-401"))
    assert resource.phase == Phase.FAILED
    assert API_KEY not in resource.message


def test_unknown_config_keys_go_in_the_body(openai_env: FakeOpenAI) -> None:
    template = batch_template(config={"completion_window": "48h", "priority": 3.0})
    meta = create(template, file_inputs(template, "file-extra"))
    [created] = [
        r
        for r in openai_env.received("/v1/batches")
        if r["path"] == "/v1/batches" and r["body"]["input_file_id"] == "file-extra"
    ]
    assert created["body"]["completion_window"] == "48h"
    assert created["body"]["priority"] == 3
    assert isinstance(created["body"]["priority"], int)
    assert meta.result_type is not None


def test_metadata_json_is_strict() -> None:
    meta = BatchEndpointMetadata(openai_org="org", batch_id="batch_1")
    assert json.loads(meta.encode())["openai_org"] == "org"
    assert BatchEndpointMetadata.decode(meta.encode()) == meta
    with pytest.raises(ResourceMetaError):
        BatchEndpointMetadata.decode(b'{"openai_org": "o", "batch_id": "b", "evil": 1}')
    with pytest.raises(ResourceMetaError):
        BatchEndpointMetadata.decode(b'{"openai_org": "o"}')


def test_flytekits_pickled_metadata_is_read_without_unpickling() -> None:
    data = base64.b64decode((DATA / "batch_resource_meta.pickle.b64").read_text())
    meta = BatchEndpointMetadata.decode(data)
    assert (meta.openai_org, meta.batch_id) == ("org-fixture", "batch_fixture")


class _Exploit:
    def __reduce__(self) -> Any:
        return (print, ("pwned",))


@pytest.mark.parametrize(
    "payload",
    [
        pickle.dumps(_Exploit(), protocol=4),
        pickle.dumps({"openai_org": "o", "batch_id": "b"}, protocol=4),
        pickle.dumps(["not", "metadata"], protocol=5),
        b"\x80\x05garbage",
        b"\x80\x05" + b"N" * 70_000,
    ],
)
def test_other_pickles_are_rejected(payload: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ResourceMetaError):
        BatchEndpointMetadata.decode(payload)
    assert "pwned" not in capsys.readouterr().out


_CLASS = b"cflytekitplugins.openai.batch.connector\nBatchEndpointMetadata\n"
"""GLOBAL: flytekit's metadata class by name (protocol 0's spelling)."""


@pytest.mark.parametrize(
    ("opcodes", "reason"),
    [
        (b"h\x05", "unsupported BINGET opcode"),  # a memo entry never put
        (b"\x94", "unsupported MEMOIZE opcode"),  # memoizing an empty stack
        (b"\x8c\x01a\x93", "unsupported STACK_GLOBAL opcode"),  # one name, not two
        (b"cos\nsystem\n", "a pickle of an unexpected class"),
        (_CLASS + b"}\x81", "unsupported NEWOBJ opcode"),  # arguments that are not ()
        (b"}\x8c\x01a\x8c\x01bu", "unsupported SETITEMS opcode"),  # no MARK
        (b"N\x8c\x01a\x8c\x01bs", "unsupported SETITEM opcode"),  # into no dict
        (b"}}}s", "unsupported SETITEM opcode"),  # a key that is no string (unhashable)
        (b"}(}}u", "unsupported SETITEMS opcode"),  # the same, several at once
        (b"N}b", "unsupported BUILD opcode"),  # the state of no object
        (_CLASS + b")\x81Nb", "unsupported BUILD opcode"),  # a state that is no dict
        (_CLASS + b")\x81" + _CLASS + b")\x81", "does not hold flytekit batch metadata"),
        (_CLASS + b")\x81}\x8c\x01a\x8c\x01bsb", "unexpected batch metadata fields"),
    ],
)
def test_each_opcode_is_checked_before_it_is_applied(opcodes: bytes, reason: str) -> None:
    with pytest.raises(ResourceMetaError, match=reason):
        read_flytekit_metadata(b"\x80\x04" + opcodes + b".")


def flytekit_pickle(openai_org: str | None, batch_id: str) -> bytes:
    """The bytes flytekit's connector writes for its metadata (cloudpickle pickles the class by
    reference, as plain pickle does), made with a stand-in class under flytekit's module name."""
    name = "flytekitplugins.openai.batch.connector"

    @dataclass
    class BatchEndpointMetadata:
        openai_org: str | None
        batch_id: str

    BatchEndpointMetadata.__module__ = name
    BatchEndpointMetadata.__qualname__ = "BatchEndpointMetadata"
    modules = {}
    for depth in range(1, name.count(".") + 2):
        modules[".".join(name.split(".")[:depth])] = types.ModuleType(name)
    modules[name].BatchEndpointMetadata = BatchEndpointMetadata  # type: ignore[attr-defined]
    with mock.patch.dict(sys.modules, modules):
        return pickle.dumps(BatchEndpointMetadata(openai_org, batch_id), protocol=5)


def test_stand_in_pickle_matches_flytekits_bytes() -> None:
    fixture = base64.b64decode((DATA / "batch_resource_meta.pickle.b64").read_text())
    assert flytekit_pickle("org-fixture", "batch_fixture") == fixture


def test_in_flight_flytekit_batch_can_be_polled_and_cancelled(openai_env: FakeOpenAI) -> None:
    """Batches created under flytekit (pickled metadata) are polled and cancelled here."""
    template = batch_template()
    done = create(template, file_inputs(template, "file-from-flytekit"))
    meta = BatchEndpointMetadata.decode(flytekit_pickle(None, done.batch_id))
    assert (meta.openai_org, meta.batch_id) == (None, done.batch_id)
    assert poll_until_terminal(meta)[-1].phase == Phase.SUCCEEDED

    running = create(template, file_inputs(template, "file-from-flytekit-2"))
    meta = BatchEndpointMetadata.decode(flytekit_pickle("org-test", running.batch_id))
    run(BatchEndpointAgent().delete(meta))
    assert len(openai_env.received(f"/v1/batches/{running.batch_id}/cancel")) == 1
