"""The v1 and v2 service handlers in process: raw request bytes in, raw response bytes out,
with a small fake of the grpc context (as ``bench/inproc.py`` drives them). Behaviour both
protocols share is one test parametrised by protocol."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from flyteidl.admin import agent_pb2
from flyteidl.core import execution_pb2, metrics_pb2
from google.protobuf import json_format
from google.protobuf.struct_pb2 import Struct
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from agenthost import AsyncAgentBase, Connection, Resource, ResourceMeta, SyncAgentBase
from agenthost.connection import current_connection, set_current_connection
from agenthost.core import Dispatcher
from agenthost.core.sync_results import SyncResultMeta
from agenthost.protocols.common import ServiceBase
from agenthost.protocols.v1.services import AgentServices
from agenthost.protocols.v2 import wire
from agenthost.protocols.v2.services import ConnectorServices
from agenthost.secrets import remember_secret
from agenthost.server.admission import Admission
from agenthost.server.metrics import Metrics
from agenthost.testing import make_inputs, make_template

SUCCEEDED = execution_pb2.TaskExecution.SUCCEEDED
FAILED = execution_pb2.TaskExecution.FAILED


class Aborted(Exception):
    """What the fake context raises on ``abort``, with the status it was given."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


class Context:
    """The parts of ``grpc.aio.ServicerContext`` the handlers use for unary calls given as
    bytes: ``abort``."""

    async def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise Aborted(code, details)


@dataclass
class Meta(ResourceMeta):
    job: str
    x: int = 0


class Doubler(AsyncAgentBase):
    """Succeeds at once with ``y = 2 * x``; ``x == 7`` fails the job, ``x == 13`` makes ``get``
    raise."""

    def __init__(self) -> None:
        super().__init__("doubler", Meta, name="Doubler")
        self.deleted: list[str] = []

    async def create(self, task_template: Any, inputs: Any = None, **kwargs: Any) -> Meta:
        x = inputs.literals["x"].scalar.primitive.integer if inputs is not None else 0
        return Meta(job="j1", x=x)

    async def get(self, resource_meta: Meta, **kwargs: Any) -> Resource:
        if resource_meta.x == 7:
            return Resource.failure(f"job {resource_meta.job} failed")
        if resource_meta.x == 13:
            raise ValueError("unlucky input")
        return Resource.succeeded({"y": resource_meta.x * 2})

    async def delete(self, resource_meta: Meta, **kwargs: Any) -> None:
        self.deleted.append(resource_meta.job)


@dataclass
class Protocol:
    """How one protocol's requests are made."""

    services: type[ServiceBase]
    create: Callable[[Any, Any], bytes]
    get: Callable[[bytes], bytes]
    delete: Callable[[bytes], bytes]


CATEGORY = agent_pb2.TaskCategory(name="doubler", version=0)

PROTOCOLS = {
    "v1": Protocol(
        AgentServices,
        lambda t, i: agent_pb2.CreateTaskRequest(template=t, inputs=i).SerializeToString(),
        lambda m: agent_pb2.GetTaskRequest(
            task_category=CATEGORY, resource_meta=m
        ).SerializeToString(),
        lambda m: agent_pb2.DeleteTaskRequest(
            task_category=CATEGORY, resource_meta=m
        ).SerializeToString(),
    ),
    "v2": Protocol(
        ConnectorServices,
        lambda t, i: wire.CreateTaskRequest(
            template=t, inputs=i.SerializeToString()
        ).SerializeToString(),
        lambda m: wire.GetTaskRequest(task_category=CATEGORY, resource_meta=m).SerializeToString(),
        lambda m: wire.DeleteTaskRequest(
            task_category=CATEGORY, resource_meta=m
        ).SerializeToString(),
    ),
}


@pytest.fixture(params=sorted(PROTOCOLS))
def protocol(request: pytest.FixtureRequest) -> Protocol:
    return PROTOCOLS[request.param]


def serve(protocol: Protocol, agent: Doubler | None = None) -> ServiceBase:
    return protocol.services(Dispatcher([agent or Doubler()]), None)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


TEMPLATE = make_template("doubler", inputs={"x": int}, outputs={"y": int})


def test_create_get_delete_round_trip(protocol: Protocol) -> None:
    agent = Doubler()
    services = serve(protocol, agent)
    create = protocol.create(TEMPLATE, make_inputs(TEMPLATE, {"x": 21}))
    created = agent_pb2.CreateTaskResponse.FromString(run(services.create_task(create, Context())))
    meta = created.resource_meta
    got = agent_pb2.GetTaskResponse.FromString(
        run(services.get_task(protocol.get(meta), Context()))
    )
    assert got.resource.phase == SUCCEEDED
    assert got.resource.outputs.literals["y"].scalar.primitive.integer == 42
    assert run(services.delete_task(protocol.delete(meta), Context())) == b""
    assert agent.deleted == ["j1"]


def test_unknown_task_type_is_not_found(protocol: Protocol) -> None:
    template = make_template("nobody")
    with pytest.raises(Aborted) as info:
        run(
            serve(protocol).create_task(
                protocol.create(template, make_inputs(template, {})), Context()
            )
        )
    assert info.value.code == grpc.StatusCode.NOT_FOUND
    assert "no agent serves task type 'nobody'" in info.value.details


def test_bad_resource_meta_is_invalid_argument(protocol: Protocol) -> None:
    with pytest.raises(Aborted) as info:
        run(serve(protocol).get_task(protocol.get(b"\xff not json"), Context()))
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "Traceback" not in info.value.details


def test_bytes_that_are_no_request_are_invalid_argument(protocol: Protocol) -> None:
    with pytest.raises(Aborted) as info:
        run(serve(protocol).get_task(b"\xff\xff\xff", Context()))
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_a_failing_agent_is_reported_as_a_status_naming_it(protocol: Protocol) -> None:
    services = serve(protocol)
    meta = Meta(job="j", x=13).encode()
    with pytest.raises(Aborted) as info:
        run(services.get_task(protocol.get(meta), Context()))
    assert info.value.code == grpc.StatusCode.INTERNAL
    assert info.value.details.startswith("agent Doubler failed to get: ValueError: unlucky input")


def test_a_failed_job_is_a_failed_phase_with_its_message(protocol: Protocol) -> None:
    meta = Meta(job="j", x=7).encode()
    got = agent_pb2.GetTaskResponse.FromString(
        run(serve(protocol).get_task(protocol.get(meta), Context()))
    )
    assert got.resource.phase == FAILED
    assert got.resource.message == "job j failed"


class AddsASecret(Doubler):
    """``get`` makes a value from its handle a secret of the call (as agent-databricks does
    with a flytekit handle's token), then fails with a message that carries it."""

    async def get(self, resource_meta: Meta, **kwargs: Any) -> Resource:
        current = current_connection()
        secrets = {**current.secrets, "handle token": "tok-from-the-handle"}
        set_current_connection(Connection(secrets=secrets, configs=current.configs))
        raise ValueError("the backend refused tok-from-the-handle")


def test_a_secret_the_agent_adds_to_its_call_is_scrubbed_from_the_status(
    protocol: Protocol,
) -> None:
    """On v2 the call's own ``connection`` is current around the agent; what the agent adds
    to it must still be current when the host maps the error (on v1 there is none)."""
    request = protocol.get(Meta(job="j", x=1).encode())
    if protocol.services is ConnectorServices:
        parsed = wire.GetTaskRequest.FromString(request)
        parsed.connection = wire.Connection(secrets={"api_key": "k-1234"}).SerializeToString()
        request = parsed.SerializeToString()
    with pytest.raises(Aborted) as info:
        run(serve(protocol, AddsASecret()).get_task(request, Context()))
    assert "the backend refused ***" in info.value.details
    assert "tok-from-the-handle" not in info.value.details


class Blocker(Doubler):
    """``get`` waits until cancelled (after setting ``started``)."""

    def __init__(self) -> None:
        super().__init__()
        self.started = asyncio.Event()

    async def get(self, resource_meta: Meta, **kwargs: Any) -> Resource:
        self.started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def test_every_way_a_call_ends_is_counted_once_and_leaves_nothing_held(
    protocol: Protocol,
) -> None:
    """Success, a failure, a refusal at the call limit and a cancellation: each is counted
    once by how it ended, and afterwards no call is in flight or admitted."""
    agent = Blocker()
    metrics = Metrics()
    admission = Admission(max_calls=1)
    services = protocol.services(Dispatcher([agent]), metrics, admission=admission)

    async def scenario() -> None:
        fine, unlucky = protocol.get(Meta(job="j", x=7).encode()), protocol.get(b"\xff")
        with pytest.raises(Aborted, match="INVALID_ARGUMENT"):
            await services.get_task(unlucky, Context())
        blocked = asyncio.ensure_future(services.get_task(fine, Context()))
        await agent.started.wait()
        with pytest.raises(Aborted, match="RESOURCE_EXHAUSTED"):
            await services.get_task(fine, Context())
        blocked.cancel()
        with pytest.raises(asyncio.CancelledError):
            await blocked
        created = await services.create_task(
            protocol.create(TEMPLATE, make_inputs(TEMPLATE, {"x": 1})), Context()
        )
        assert agent_pb2.CreateTaskResponse.FromString(created).resource_meta

    run(scenario())
    text = generate_latest(metrics.registry).decode()
    got = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    name = protocol.services.protocol  # each protocol's calls carry its name
    labels = (("operation", "get"), ("protocol", name), ("task_type", "doubler"))
    unknown = (("operation", "get"), ("protocol", name), ("task_type", "unknown"))
    failed = "flyte_connector_requests_failure_total"
    assert got[(failed, (("error_code", "400"), ("grpc_code", "INVALID_ARGUMENT"), *labels))] == 1
    assert (
        got[(failed, (("error_code", "429"), ("grpc_code", "RESOURCE_EXHAUSTED"), *unknown))] == 1
    )
    assert got[(failed, (("error_code", "499"), ("grpc_code", "CANCELLED"), *labels))] == 1
    created = (("operation", "create"), ("protocol", name), ("task_type", "doubler"))
    assert got[("flyte_connector_requests_success_total", created)] == 1
    assert got[("agenthost_requests_in_flight", (("operation", "get"), ("protocol", name)))] == 0
    assert got[("agenthost_requests_in_flight", (("operation", "create"), ("protocol", name)))] == 0
    assert admission.calls == 0
    assert admission.budget.in_use == 0


# -- secrets in reply fields ----------------------------------------------------------------

DEPLOYMENT_SECRET = "deploy-secret-5d1c9e"
CONNECTION_SECRET = "sk-conn-echo-8b2f4a"


class Echoer(Doubler):
    """Echoes every secret value of its call (the deployment's ``DEPLOYMENT_SECRET`` and the
    connection's) into ``custom_info`` (nested, and as a key), ``log_links`` and metrics."""

    @staticmethod
    def secrets() -> list[str]:
        return [DEPLOYMENT_SECRET, *current_connection().secrets.values()]

    async def get(self, resource_meta: Meta, **kwargs: Any) -> Resource:
        found = self.secrets()
        return Resource.succeeded(
            {"y": 1},
            custom_info={
                "job": {"args": [f"--token={s}" for s in found], "n": 1.0},
                **{s: "as a key" for s in found},
            },
            log_links=[
                execution_pb2.TaskLog(uri=f"https://logs.example.com/?t={s}", name=f"log {s}")
                for s in found
            ],
        )

    async def get_metrics(self, resource_meta: Meta, **kwargs: Any) -> Any:
        data = Struct()
        data.update({"labels": {s: s for s in self.secrets()}, "values": [1.0]})
        result = metrics_pb2.ExecutionMetricResult(metric=f"cpu {DEPLOYMENT_SECRET}", data=data)
        return agent_pb2.GetTaskMetricsResponse(results=[result])


def _with_connection(protocol: Protocol, request: bytes) -> bytes:
    """``request`` (a v2 GetTaskRequest) carrying ``CONNECTION_SECRET``; v1 has no connection."""
    if protocol.services is not ConnectorServices:
        return request
    parsed = wire.GetTaskRequest.FromString(request)
    parsed.connection = wire.Connection(secrets={"api_key": CONNECTION_SECRET}).SerializeToString()
    return bytes(parsed.SerializeToString())


def test_secrets_an_agent_echoes_into_custom_info_and_log_links_are_masked(
    protocol: Protocol,
) -> None:
    remember_secret(DEPLOYMENT_SECRET)
    request = _with_connection(protocol, protocol.get(Meta(job="j").encode()))
    reply = run(serve(protocol, Echoer()).get_task(request, Context()))
    assert DEPLOYMENT_SECRET.encode() not in reply and CONNECTION_SECRET.encode() not in reply
    resource = agent_pb2.GetTaskResponse.FromString(reply).resource
    secrets = 2 if protocol.services is ConnectorServices else 1
    info = json_format.MessageToDict(resource.custom_info)
    assert info == {"job": {"args": ["--token=***"] * secrets, "n": 1.0}, "***": "as a key"}
    assert [link.uri for link in resource.log_links] == [
        "https://logs.example.com/?t=***"
    ] * secrets
    assert [link.name for link in resource.log_links] == ["log ***"] * secrets
    assert resource.outputs.literals["y"].scalar.primitive.integer == 1


def test_secrets_an_agent_echoes_into_metrics_are_masked(protocol: Protocol) -> None:
    remember_secret(DEPLOYMENT_SECRET)
    request = agent_pb2.GetTaskMetricsRequest(
        task_category=CATEGORY, resource_meta=Meta(job="j").encode()
    )
    reply = run(serve(protocol, Echoer()).get_task_metrics(request.SerializeToString(), Context()))
    assert DEPLOYMENT_SECRET.encode() not in reply
    (result,) = agent_pb2.GetTaskMetricsResponse.FromString(reply).results
    assert result.metric == "cpu ***"
    assert json_format.MessageToDict(result.data) == {"labels": {"***": "***"}, "values": [1.0]}


class SyncEchoer(SyncAgentBase):
    """Sync agent that echoes ``DEPLOYMENT_SECRET`` into its custom info and log links."""

    def __init__(self) -> None:
        super().__init__("sync_echoer", name="SyncEchoer")

    async def do(self, task_template: Any, inputs: Any = None, **kwargs: Any) -> Resource:
        return Resource.succeeded(
            custom_info={"echo": DEPLOYMENT_SECRET},
            log_links=[execution_pb2.TaskLog(uri=f"https://x/{DEPLOYMENT_SECRET}")],
        )


def test_a_sync_result_in_resource_meta_holds_no_secret_the_agent_echoed() -> None:
    """``CreateTask`` of a sync agent answers its result in ``resource_meta``: a reply too."""
    remember_secret(DEPLOYMENT_SECRET)
    meta = run(Dispatcher([SyncEchoer()]).create(make_template("sync_echoer")))
    assert DEPLOYMENT_SECRET.encode() not in meta
    resource = SyncResultMeta.decode(meta).resource
    assert json_format.MessageToDict(resource.custom_info) == {"echo": "***"}
    assert resource.log_links[0].uri == "https://x/***"


# -- GetTaskLogs: refusals and the agent's concurrency limit -----------------------------------


def _samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def _pages(services: ServiceBase, request: bytes) -> list[bytes]:
    return [page async for page in services.get_task_logs(request, Context())]


def _logs_request(job: str = "j") -> bytes:
    request = agent_pb2.GetTaskLogsRequest(task_category=CATEGORY, resource_meta=Meta(job).encode())
    return bytes(request.SerializeToString())


def test_a_get_task_logs_refused_at_the_call_limit_is_counted(protocol: Protocol) -> None:
    """As a refused unary call: a failure with the status code, task type unknown."""
    agent = Blocker()
    metrics = Metrics()
    admission = Admission(max_calls=1)
    services = protocol.services(Dispatcher([agent]), metrics, admission=admission)

    async def scenario() -> None:
        blocked = asyncio.ensure_future(
            services.get_task(protocol.get(Meta(job="j").encode()), Context())
        )
        await agent.started.wait()
        with pytest.raises(Aborted, match="RESOURCE_EXHAUSTED"):
            await _pages(services, _logs_request())
        blocked.cancel()
        with pytest.raises(asyncio.CancelledError):
            await blocked

    run(scenario())
    got = _samples(metrics)
    name = protocol.services.protocol
    refused = (
        ("error_code", "429"),
        ("grpc_code", "RESOURCE_EXHAUSTED"),
        ("operation", "get_logs"),
        ("protocol", name),
        ("task_type", "unknown"),
    )
    assert got[("flyte_connector_requests_failure_total", refused)] == 1
    in_flight = ("agenthost_requests_in_flight", (("operation", "get_logs"), ("protocol", name)))
    assert got[in_flight] == 0
    assert admission.calls == 0


class SlowLogs(Doubler):
    """``get_logs`` yields one page (``finish`` set: and ends), else waits until cancelled;
    ``closed`` is set when its generator ends, however it ends."""

    def __init__(self) -> None:
        super().__init__()
        self.paged = asyncio.Event()
        self.closed = asyncio.Event()
        self.finish = False

    async def get_logs(self, resource_meta: Meta, **kwargs: Any) -> Any:
        try:
            yield agent_pb2.GetTaskLogsResponse(
                body=agent_pb2.GetTaskLogsResponseBody(results=["first"])
            )
            self.paged.set()
            if not self.finish:
                await asyncio.Event().wait()
        finally:
            self.closed.set()


def test_a_log_stream_holds_its_agent_concurrency_slot_until_it_ends(protocol: Protocol) -> None:
    """With ``agent_concurrency=1`` a GetTask waits while a GetTaskLogs stream of the same
    agent is open (as it waits for any call into the agent), and gets the slot as soon as the
    stream ends: exhausted, or cancelled by its client while the agent produces a page."""
    agent = SlowLogs()
    services = protocol.services(Dispatcher([agent], agent_concurrency=1), None)
    (entry,) = services.dispatcher.entries
    get = protocol.get(Meta(job="j").encode())

    async def scenario() -> None:
        agent.finish = True
        assert len(await _pages(services, _logs_request())) == 1
        assert entry.semaphore is not None and not entry.semaphore.locked()
        agent.finish, agent.closed = False, asyncio.Event()
        stream = asyncio.ensure_future(_pages(services, _logs_request()))
        await asyncio.wait_for(agent.paged.wait(), 10)
        waiting = asyncio.ensure_future(services.get_task(get, Context()))
        done, _ = await asyncio.wait({waiting}, timeout=0.2)
        assert not done and entry.semaphore.locked()  # the open stream holds the slot
        stream.cancel()  # the client goes away
        with pytest.raises(asyncio.CancelledError):
            await stream
        assert agent.closed.is_set()
        reply = agent_pb2.GetTaskResponse.FromString(await asyncio.wait_for(waiting, 10))
        assert reply.resource.phase == SUCCEEDED
        assert not entry.semaphore.locked()

    run(scenario())
