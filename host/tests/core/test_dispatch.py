"""In-process tests of the core (``agenthost.core``: the ``Dispatcher``, the agent index, the
call contract) and the message scrubber."""

from __future__ import annotations

import asyncio
import base64
import functools
import json
from dataclasses import dataclass

import pytest
from flyteidl.admin import agent_pb2
from flyteidl.core import execution_pb2

from agenthost import (
    AsyncAgentBase,
    Resource,
    ResourceMeta,
    SyncAgentBase,
    UnknownTaskTypeError,
    secrets,
)
from agenthost.dispatch import (
    AgentCallError,
    Dispatcher,
    NotImplementedByAgentError,
    SyncResultMeta,
    WrongAgentKindError,
    check_inputs,
)
from agenthost.errors import InvalidRequestError, ResourceMetaError
from agenthost.secrets import get_secret, remember_secret
from agenthost.server.scrub import Scrubber
from agenthost.testing import make_inputs, make_template
from agenthost.threads import run_blocking


@dataclass
class JobMeta(ResourceMeta):
    job_id: str
    x: int = 0


class Versioned(SyncAgentBase):
    def __init__(self, version: int) -> None:
        super().__init__("multi", version, name=f"Multi{version}")

    def do(self, task_template, inputs=None):  # type: ignore[no-untyped-def]
        return Resource.succeeded({"v": self.task_type_version})


class Picky(AsyncAgentBase):
    """Declares only some keywords; records what it received."""

    def __init__(self) -> None:
        super().__init__("picky", JobMeta, name="Picky")
        self.seen: dict[str, object] = {}

    async def create(self, task_template, output_prefix):  # type: ignore[no-untyped-def]
        self.seen = {"output_prefix": output_prefix}
        return JobMeta(job_id="p")

    async def get(self, resource_meta):  # type: ignore[no-untyped-def]
        raise RuntimeError("x" * 1000)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_resolution_prefers_version_zero_for_bare_task_type() -> None:
    agents = Dispatcher([Versioned(3), Versioned(0), Versioned(1)]).agents
    assert agents.resolve("multi").agent.task_type_version == 0
    assert agents.resolve("multi", 3).agent.task_type_version == 3
    with pytest.raises(UnknownTaskTypeError, match="served versions: 0, 1, 3"):
        agents.resolve("multi", 9)
    with pytest.raises(InvalidRequestError, match="names no task type"):
        agents.resolve("")
    only_two = Dispatcher([Versioned(2), Versioned(5)]).agents
    assert only_two.resolve("multi").agent.task_type_version == 2


def test_requests_resolve_by_category_else_by_the_task_type_string() -> None:
    dispatcher = Dispatcher([Versioned(3), Versioned(0)])
    meta = run(dispatcher.create(make_template("multi", version=3)))
    category = agent_pb2.TaskCategory(name="multi", version=3)
    resource = run(dispatcher.get("ignored", category, meta))
    assert resource.phase == execution_pb2.TaskExecution.SUCCEEDED
    with pytest.raises(UnknownTaskTypeError, match="served versions: 0, 3"):
        run(dispatcher.get("", agent_pb2.TaskCategory(name="multi", version=9), meta))
    with pytest.raises(UnknownTaskTypeError, match=r"no agent serves task type 'other'$"):
        run(dispatcher.get("other", None, meta))


def test_only_accepted_keywords_are_passed() -> None:
    agent = Picky()
    meta = run(Dispatcher([agent]).create(make_template("picky"), output_prefix="s3://o"))
    assert json.loads(meta) == {"job_id": "p", "x": 0}
    assert agent.seen == {"output_prefix": "s3://o"}


def test_agent_exception_summary_is_one_bounded_line() -> None:
    with pytest.raises(AgentCallError) as info:
        run(Dispatcher([Picky()]).get("picky", None, b'{"job_id": "p"}'))
    text = str(info.value)
    assert text.startswith("agent Picky failed to get: RuntimeError: xxx")
    assert len(text) < 400
    assert isinstance(info.value.__cause__, RuntimeError)


@dataclass
class CheckedMeta(ResourceMeta):
    """A metadata type whose own check raises (agent code the host runs to decode)."""

    job_id: str

    def __post_init__(self) -> None:
        if not self.job_id.startswith("job-"):
            raise ValueError(f"not a job id: {self.job_id}")


class Checked(AsyncAgentBase):
    def __init__(self) -> None:
        super().__init__("checked", CheckedMeta, name="Checked")

    async def create(self, task_template):  # type: ignore[no-untyped-def]
        return CheckedMeta(job_id="job-1")

    async def get(self, resource_meta):  # type: ignore[no-untyped-def]
        return Resource.succeeded()

    async def delete(self, resource_meta):  # type: ignore[no-untyped-def]
        return None


def test_metadata_type_errors_name_the_agent() -> None:
    with pytest.raises(AgentCallError) as info:
        run(Dispatcher([Checked()]).get("checked", None, b'{"job_id": "x"}'))
    assert str(info.value) == (
        "agent Checked failed to decode its resource_meta: ValueError: not a job id: x"
    )


def test_optional_operations_and_wrong_kind() -> None:
    dispatcher = Dispatcher([Picky(), Versioned(0)])
    with pytest.raises(NotImplementedByAgentError):
        run(dispatcher.metrics("picky", None, b'{"job_id": "p"}'))
    with pytest.raises(WrongAgentKindError):
        run(dispatcher.do(make_template("picky")))


def test_sync_result_meta_round_trip_and_strictness() -> None:
    dispatcher = Dispatcher([Versioned(0)])
    template = make_template("multi", outputs={"v": int})
    meta = run(dispatcher.create(template, make_inputs(template, {})))
    resource = run(dispatcher.get("multi", None, meta))
    assert resource.phase == execution_pb2.TaskExecution.SUCCEEDED
    assert SyncResultMeta.decode(meta).task_type == "multi"
    forged = json.loads(meta)
    forged["extra"] = 1
    with pytest.raises(ResourceMetaError):
        SyncResultMeta.decode(json.dumps(forged).encode())
    forged = json.loads(meta)
    forged["resource"] = base64.b64encode(b"\xff\xff").decode()
    with pytest.raises(ResourceMetaError):
        SyncResultMeta.decode(json.dumps(forged).encode())
    with pytest.raises(ResourceMetaError):
        SyncResultMeta.decode(b"{" * 10_000_000)


def test_oversized_sync_result_becomes_failed_resource() -> None:
    class Big(SyncAgentBase):
        def __init__(self) -> None:
            super().__init__("big")

        def do(self, task_template, inputs=None):  # type: ignore[no-untyped-def]
            return Resource.succeeded({"blob": "x" * 5000})

    dispatcher = Dispatcher([Big()], max_sync_meta_bytes=1000)
    meta = run(dispatcher.create(make_template("big", outputs={"blob": str})))
    resource = run(dispatcher.get("big", None, meta))
    assert resource.phase == execution_pb2.TaskExecution.FAILED
    assert "ExecuteTaskSync" in resource.message


class Reporter(AsyncAgentBase):
    """``get`` answers with what its job id names: dict outputs, a flyteidl Resource, or
    outputs too large to send."""

    def __init__(self) -> None:
        super().__init__("reporter", JobMeta, name="Reporter")

    async def create(self, task_template):  # type: ignore[no-untyped-def]
        return JobMeta(job_id="dict")

    async def get(self, resource_meta):  # type: ignore[no-untyped-def]
        if resource_meta.job_id == "proto":
            return agent_pb2.Resource(phase=execution_pb2.TaskExecution.RUNNING, message="m")
        if resource_meta.job_id == "big":
            return Resource.succeeded({"blob": "x" * 5000})
        if resource_meta.job_id == "big-proto":
            big = agent_pb2.Resource(phase=execution_pb2.TaskExecution.SUCCEEDED)
            big.outputs.literals["blob"].scalar.primitive.string_value = "x" * 5000
            return big
        return Resource.succeeded({"n": 1})


@pytest.mark.parametrize("job", ["dict", "proto", "big", "big-proto"])
def test_get_writes_the_resource_into_a_response_field(job: str) -> None:
    dispatcher = Dispatcher([Reporter()], max_resource_bytes=1000)
    meta = JobMeta(job_id=job).encode()
    expected = run(dispatcher.get("reporter", None, meta))
    response = agent_pb2.GetTaskResponse()
    returned = run(dispatcher.get("reporter", None, meta, into=response.resource))
    assert returned == response.resource == expected
    if job.startswith("big"):
        assert response.resource.agent_error.code == "OutputsTooLarge"
        assert not response.resource.HasField("outputs")


def test_do_and_sync_results_write_into_a_response_field() -> None:
    dispatcher = Dispatcher([Versioned(0)])
    template = make_template("multi", outputs={"v": int})
    response = agent_pb2.ExecuteTaskSyncResponse()
    run(dispatcher.do(template, into=response.header.resource))
    assert response.header.resource == run(dispatcher.do(template))
    meta = run(dispatcher.create(template))
    into = agent_pb2.GetTaskResponse()
    run(dispatcher.get("multi", None, meta, into=into.resource))
    assert into.resource == response.header.resource


def test_check_inputs_names_missing_and_undeclared_inputs() -> None:
    template = make_template("t", inputs={"a": int, "b": str})
    check_inputs(template, make_inputs(template, {"a": 1, "b": "x"}))
    with pytest.raises(InvalidRequestError, match=r"missing input\(s\) 'b'"):
        check_inputs(template, make_inputs(make_template("t", inputs={"a": int}), {"a": 1}))
    with pytest.raises(InvalidRequestError, match=r"missing input\(s\) 'a', 'b'"):
        check_inputs(template, None)
    other = make_template("t", inputs={"a": int, "c": str})
    with pytest.raises(InvalidRequestError, match=r"input\(s\) 'c' are not declared"):
        check_inputs(template, make_inputs(other, {"a": 1, "c": "y"}))
    # Names and types are checked in one pass: a request with both faults names one of them.
    mixed = make_inputs(make_template("t", inputs={"a": str, "c": str}), {"a": "x", "c": "y"})
    with pytest.raises(InvalidRequestError, match=r"input 'a'|input\(s\) 'c' are not declared"):
        check_inputs(template, mixed)
    with pytest.raises(InvalidRequestError, match=r"input 'b'"):
        check_inputs(
            template, make_inputs(make_template("t", inputs={"a": int, "b": int}), {"a": 1, "b": 2})
        )
    bare = make_template("t")
    bare.ClearField("interface")
    check_inputs(bare, make_inputs(other, {"a": 1, "c": "y"}))
    check_inputs(bare, None)
    check_inputs(make_template("t"), None)


def test_scrubber_removes_paths_and_secrets() -> None:
    import agenthost

    remember_secret("sk-test-very-secret")
    scrub = Scrubber()
    text = f"failed in {agenthost.__file__} with key sk-test-very-secret"
    cleaned = scrub(text)
    assert "sk-test-very-secret" not in cleaned
    assert agenthost.__file__ not in cleaned
    assert cleaned.endswith("with key ***")


class Closing(SyncAgentBase):
    """Records its ``aclose`` calls; ``how`` picks async, blocking, raising or hanging."""

    def __init__(self, name: str, how: str, closed: list[str]) -> None:
        super().__init__(f"closing_{name.lower()}", name=name)
        self.how = how
        self.closed = closed
        if how == "blocking":
            self.aclose = self._blocking_close  # type: ignore[method-assign, assignment]

    def do(self, task_template, inputs=None):  # type: ignore[no-untyped-def]
        return Resource.succeeded({})

    async def aclose(self) -> None:
        if self.how == "hanging":
            await asyncio.sleep(60)
        if self.how == "raising":
            raise RuntimeError("session already gone")
        self.closed.append(self.name)

    def _blocking_close(self) -> None:
        self.closed.append(self.name)


def test_aclose_closes_every_agent_once_and_reports_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed: list[str] = []
    ok = Closing("Async", "async", closed)
    agents = [
        ok,
        Closing("Blocking", "blocking", closed),
        Closing("Raising", "raising", closed),
        Closing("Hanging", "hanging", closed),
        Versioned(1),  # no aclose
    ]
    dispatcher = Dispatcher(agents)
    dispatcher.entries.append(dispatcher.entries[0])  # the same agent object twice
    failed = asyncio.run(dispatcher.aclose(timeout=0.5))
    assert sorted(closed) == ["Async", "Blocking"]
    assert sorted(failed) == ["Hanging", "Raising"]
    assert "agent Raising: aclose failed: RuntimeError: session already gone" in caplog.text
    assert "agent Hanging: aclose timed out" in caplog.text


class Leaky(AsyncAgentBase):
    """Puts the deployment secret ``LEAKY_TOKEN`` into its resource_meta."""

    def __init__(self) -> None:
        super().__init__("leaky", JobMeta, name="Leaky")

    async def create(self, task_template, inputs=None):  # type: ignore[no-untyped-def]
        return JobMeta(job_id=f"job-{get_secret('LEAKY_TOKEN')}")


class LeakySync(SyncAgentBase):
    """Returns the deployment secret ``LEAKY_TOKEN`` as an output."""

    def __init__(self) -> None:
        super().__init__("leaky_sync", name="LeakySync")

    def do(self, task_template, inputs=None):  # type: ignore[no-untyped-def]
        return Resource.succeeded({"token": get_secret("LEAKY_TOKEN")})


@pytest.mark.parametrize("token", ["tok-3f4e5d6c", 'tok"with\\quote-3f4e'])
def test_a_deployment_secret_never_goes_into_a_resource_meta(
    monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    """resource_meta is stored by the executor and sent back on every call: a deployment secret
    there (as is, or JSON-escaped as a ResourceMeta writes it) fails the create naming the
    agent, never the value; so does one in a sync agent's outputs, which its meta carries."""
    monkeypatch.setattr(secrets, "_known_values", set())  # this test's secrets only
    monkeypatch.setattr(secrets, "_known_encoded", ())
    monkeypatch.setenv("_FSEC_LEAKY_TOKEN", token)
    dispatcher = Dispatcher([Leaky(), LeakySync()])
    for task_type in ("leaky", "leaky_sync"):
        with pytest.raises(AgentCallError) as caught:
            run(dispatcher.create(make_template(task_type)))
        assert "contains the value of a deployment secret" in str(caught.value)
        assert token not in str(caught.value)
        assert caught.value.agent in ("Leaky", "LeakySync")


class OnePageLogs(AsyncAgentBase):
    """``get_logs`` returns one page (no iterator) quoting the deployment secret ``PAGE_TOKEN``."""

    def __init__(self) -> None:
        super().__init__("one_page_logs", JobMeta, name="OnePageLogs")

    async def create(self, task_template, **kwargs):  # type: ignore[no-untyped-def]
        return JobMeta(job_id="j")

    async def get(self, resource_meta):  # type: ignore[no-untyped-def]
        return Resource.succeeded()

    async def get_logs(self, resource_meta, **kwargs):  # type: ignore[no-untyped-def]
        line = f"connecting with token={get_secret('PAGE_TOKEN')}"
        return agent_pb2.GetTaskLogsResponse(body=agent_pb2.GetTaskLogsResponseBody(results=[line]))


def test_a_single_log_page_masks_the_secrets_it_quotes(monkeypatch: pytest.MonkeyPatch) -> None:
    """``get_logs`` may return one page rather than an iterator of them: that page is a reply
    like any other, its lines with every known secret masked."""
    monkeypatch.setenv("_FSEC_PAGE_TOKEN", "tok-9a8b7c6d")
    dispatcher = Dispatcher([OnePageLogs()])

    async def pages() -> list[str]:
        return [
            line
            async for page in dispatcher.logs("one_page_logs", None, b'{"job_id": "j"}')
            for line in page.body.results
        ]

    assert run(pages()) == ["connecting with token=***"]


class BlockingLogs(AsyncAgentBase):
    """``get_logs`` is an async generator that reads each page with ``run_blocking``; each read
    records whether the agent's only thread slot (``agent_threads=1``) is taken while it runs."""

    def __init__(self) -> None:
        super().__init__("blocking_logs", JobMeta, name="BlockingLogs")
        self.slots: asyncio.Semaphore | None = None
        self.in_share: list[bool] = []

    async def create(self, task_template, **kwargs):  # type: ignore[no-untyped-def]
        return JobMeta(job_id="j")

    async def get(self, resource_meta):  # type: ignore[no-untyped-def]
        return Resource.succeeded()

    def _read(self, i: int) -> str:
        assert self.slots is not None
        self.in_share.append(self.slots.locked())
        return f"line {i}"

    async def get_logs(self, resource_meta, **kwargs):  # type: ignore[no-untyped-def]
        for i in range(2):
            line = await run_blocking(functools.partial(self._read, i))
            yield agent_pb2.GetTaskLogsResponse(
                body=agent_pb2.GetTaskLogsResponseBody(results=[line])
            )


def test_blocking_work_of_a_log_generator_counts_against_the_agents_thread_share() -> None:
    """``run_blocking`` in an ``async def`` generator ``get_logs`` holds a thread of the agent's
    ``--agent-threads`` share, as it does in any other method: the stream is a call into the
    agent for its whole length, not only while ``get_logs`` is called."""
    agent = BlockingLogs()
    dispatcher = Dispatcher([agent], agent_threads=1)
    (entry,) = dispatcher.entries
    agent.slots = entry.thread_slots

    async def pages() -> list[str]:
        return [
            line
            async for page in dispatcher.logs("blocking_logs", None, b'{"job_id": "j"}')
            for line in page.body.results
        ]

    assert run(pages()) == ["line 0", "line 1"]
    assert agent.in_share == [True, True]


def test_a_short_deployment_secret_is_no_reason_to_refuse_a_resource_meta(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A placeholder such as ``none`` in an unused secret would otherwise refuse ordinary
    JSON: values shorter than ``REFUSED_SECRET_LENGTH`` are masked in text, never refused."""
    monkeypatch.setattr(secrets, "_known_values", set())
    monkeypatch.setattr(secrets, "_known_encoded", ())
    monkeypatch.setenv("_FSEC_LEAKY_TOKEN", "none")
    meta = run(Dispatcher([Leaky()]).create(make_template("leaky")))
    assert json.loads(meta) == {"job_id": "job-none", "x": 0}
