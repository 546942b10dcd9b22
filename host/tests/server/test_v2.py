"""The Flyte 2 connector services of a real ``agenthost serve``, called with ``flyteidl2``'s own
stubs: lifecycles, both protocols on one port and across replicas, inputs, every error case,
phases, logs, health, reflection and per-task connection secrets."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest
from flyteidl.admin import agent_pb2
from flyteidl2.connector import connector_pb2 as c2
from flyteidl2.connector import service_pb2_grpc as svc2
from flyteidl2.core import execution_pb2 as exec2
from flyteidl2.core import literals_pb2 as lit2
from flyteidl2.core import security_pb2, tasks_pb2
from flyteidl2.task import common_pb2
from google.protobuf import json_format, unknown_fields
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families
from server_test_kit import test_server

from agenthost.testing import RunningServer, make_inputs, make_template, wait_for

REPO = Path(__file__).resolve().parents[3]
FAKE_OPENAI = REPO / "plugins" / "openai" / "tests" / "fake_openai.py"
V2_SERVICES = (
    "flyteidl2.connector.AsyncConnectorService",
    "flyteidl2.connector.ConnectorMetadataService",
)
V1_SERVICES = (
    "flyteidl.service.AsyncAgentService",
    "flyteidl.service.SyncAgentService",
    "flyteidl.service.AgentMetadataService",
)
SUCCEEDED = exec2.TaskExecution.SUCCEEDED


def stub(server: RunningServer) -> svc2.AsyncConnectorServiceStub:
    return svc2.AsyncConnectorServiceStub(server.channel)


def template2(task_type: str, **kwargs: Any) -> tasks_pb2.TaskTemplate:
    """A flyteidl2 template (the v1 helper's bytes parse identically as v2)."""
    return tasks_pb2.TaskTemplate.FromString(make_template(task_type, **kwargs).SerializeToString())


def inputs2(
    task_type: str, values: dict[str, Any], order: list[str] | None = None, **kwargs: Any
) -> common_pb2.Inputs:
    literal_map = make_inputs(make_template(task_type, **kwargs), values)
    return common_pb2.Inputs(
        literals=[
            common_pb2.NamedLiteral(
                name=name,
                value=lit2.Literal.FromString(literal_map.literals[name].SerializeToString()),
            )
            for name in order or list(literal_map.literals)
        ]
    )


def category(task_type: str, version: int = 0) -> c2.TaskCategory:
    return c2.TaskCategory(name=task_type, version=version)


def create2(
    server: RunningServer, task_type: str, values: dict[str, Any] | None = None, **kw: Any
) -> bytes:
    connection = kw.pop("connection", None)
    order = kw.pop("order", None)
    request = c2.CreateTaskRequest(
        template=template2(task_type, **kw), output_prefix="s3://bucket/out"
    )
    if values is not None:
        request.inputs.CopyFrom(inputs2(task_type, values, order, **kw))
    if connection is not None:
        request.connection.CopyFrom(connection)
    return bytes(stub(server).CreateTask(request, timeout=20).resource_meta)


def get2(server: RunningServer, task_type: str, meta: bytes, **kw: Any) -> c2.Resource:
    request = c2.GetTaskRequest(task_category=category(task_type), resource_meta=meta, **kw)
    return stub(server).GetTask(request, timeout=20).resource


def outputs(resource: c2.Resource) -> dict[str, Any]:
    return {
        named.name: json_format.MessageToDict(named.value.scalar.primitive)
        for named in resource.outputs.literals
    }


def unknown(message: Any) -> int:
    """How many fields of ``message`` its (v2) schema does not know."""
    return len(unknown_fields.UnknownFieldSet(message))


def code_of(call: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code(), info.value.details()


# -- lifecycles ---------------------------------------------------------------------------


def test_async_lifecycle(server: RunningServer, markers: Path) -> None:
    meta = create2(server, "fast_async", {"x": 21}, inputs={"x": int}, outputs={"y": int})
    resource = get2(server, "fast_async", meta, output_prefix="s3://bucket/out")
    assert resource.phase == SUCCEEDED
    assert outputs(resource) == {"y": {"integer": "42"}}
    assert resource.message == "done job-s3://bucket/out"
    assert [link.uri for link in resource.log_links] == ["https://example.com/job"]
    assert resource.custom_info["job_id"] == "job-s3://bucket/out"
    assert unknown(resource) == 0
    for _ in range(2):  # idempotent
        stub(server).DeleteTask(
            c2.DeleteTaskRequest(task_category=category("fast_async"), resource_meta=meta),
            timeout=20,
        )
    assert (markers / "deleted-job-s3:__bucket_out").exists()


def test_sync_agent_runs_in_create_and_get_returns_its_typed_result(server: RunningServer) -> None:
    kwargs = {"inputs": {"prompt": str}, "outputs": {"out": str}}
    meta = create2(server, "echo_sync", {"prompt": "hi"}, **kwargs)
    assert json.loads(meta)["kind"] == "agenthost.sync-result"
    resource = get2(server, "echo_sync", meta)
    assert resource.phase == SUCCEEDED and outputs(resource) == {"out": {"stringValue": "HI"}}
    stub(server).DeleteTask(
        c2.DeleteTaskRequest(task_category=category("echo_sync"), resource_meta=meta), timeout=20
    )


def test_sensor_lifecycle(server: RunningServer, tmp_path: Path) -> None:
    target = tmp_path / "arrives"
    meta = create2(server, "test_path_sensor", {"path": str(target)}, inputs={"path": str})
    assert get2(server, "test_path_sensor", meta).phase == exec2.TaskExecution.RUNNING
    target.write_text("here")
    assert get2(server, "test_path_sensor", meta).phase == SUCCEEDED


def test_binary_inputs_stay_opaque_bytes(server: RunningServer, tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    payload = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
    request = c2.CreateTaskRequest(
        template=template2("binary_size", outputs={"size": int, "tag": str})
    )
    request.template.interface.inputs.variables.add(key="blob").value.type.simple = 7  # BINARY
    blob = request.inputs.literals.add(name="blob")
    blob.value.scalar.binary.value = payload
    blob.value.scalar.binary.tag = "pickle"
    meta = stub(server).CreateTask(request, timeout=20).resource_meta
    resource = get2(server, "binary_size", meta)
    assert outputs(resource) == {
        "size": {"integer": str(len(payload))},
        "tag": {"stringValue": "pickle"},
    }
    assert not marker.exists()


# -- one port, two protocols, two replicas ------------------------------------------------


def test_same_resource_meta_and_cross_protocol_polling(server: RunningServer) -> None:
    kwargs: dict[str, Any] = {"inputs": {"x": int}, "outputs": {"y": int}}
    v1_request = agent_pb2.CreateTaskRequest(
        template=make_template("fast_async", **kwargs),
        inputs=make_inputs(make_template("fast_async", **kwargs), {"x": 5}),
        output_prefix="s3://bucket/out",
    )
    v1_meta = server.async_stub.CreateTask(v1_request, timeout=20).resource_meta
    v2_meta = create2(server, "fast_async", {"x": 5}, **kwargs)
    assert v1_meta == v2_meta
    # created over v1, polled and deleted over v2
    assert outputs(get2(server, "fast_async", v1_meta)) == {"y": {"integer": "10"}}
    stub(server).DeleteTask(
        c2.DeleteTaskRequest(task_category=category("fast_async"), resource_meta=v1_meta),
        timeout=20,
    )
    # created over v2, polled over v1
    v1_get = agent_pb2.GetTaskRequest(
        task_category=agent_pb2.TaskCategory(name="fast_async"), resource_meta=v2_meta
    )
    resource = server.async_stub.GetTask(v1_get, timeout=20).resource
    assert resource.outputs.literals["y"].scalar.primitive.integer == 10
    # a sync agent's result too
    sync_meta = create2(
        server, "echo_sync", {"prompt": "a"}, inputs={"prompt": str}, outputs={"out": str}
    )
    v1_sync = agent_pb2.GetTaskRequest(
        task_category=agent_pb2.TaskCategory(name="echo_sync"), resource_meta=sync_meta
    )
    assert server.async_stub.GetTask(v1_sync, timeout=20).resource.phase == SUCCEEDED


def test_metrics_name_the_protocol_of_each_call(server: RunningServer, metrics_port: int) -> None:
    """One deployment through a Flyte 1 -> 2 migration: each call is counted under the
    protocol it came in on, so an operator sees when v1 traffic has ended."""

    def creates(protocol: str) -> float:
        labels = {"task_type": "fast_async", "operation": "create", "protocol": protocol}
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "flyte_connector_requests_success_total" and sample.labels == labels
        )

    before = {protocol: creates(protocol) for protocol in ("v1", "v2")}
    template = make_template("fast_async", inputs={"x": int}, outputs={"y": int})
    v1_request = agent_pb2.CreateTaskRequest(
        template=template, inputs=make_inputs(template, {"x": 1})
    )
    server.async_stub.CreateTask(v1_request, timeout=20)
    for _ in range(2):
        create2(server, "fast_async", {"x": 1}, inputs={"x": int}, outputs={"y": int})
    assert creates("v1") == before["v1"] + 1
    assert creates("v2") == before["v2"] + 2


def test_another_replica_serving_only_v2_polls_a_v1_task(
    server: RunningServer, markers: Path
) -> None:
    kwargs: dict[str, Any] = {"inputs": {"x": int}, "outputs": {"y": int}}
    template = make_template("fast_async", **kwargs)
    meta = server.async_stub.CreateTask(
        agent_pb2.CreateTaskRequest(template=template, inputs=make_inputs(template, {"x": 4})),
        timeout=20,
    ).resource_meta
    with test_server(markers, "--protocols", "v2", "--metrics-port", "0") as replica:
        assert outputs(get2(replica, "fast_async", meta)) == {"y": {"integer": "8"}}
        code, _ = code_of(
            lambda: replica.metadata_stub.ListAgents(agent_pb2.ListAgentsRequest(), timeout=10)
        )
        assert code == grpc.StatusCode.UNIMPLEMENTED
        health = health_pb2_grpc.HealthStub(replica.channel)
        code, _ = code_of(
            lambda: health.Check(health_pb2.HealthCheckRequest(service=V1_SERVICES[0]), timeout=10)
        )
        assert code == grpc.StatusCode.NOT_FOUND


# -- inputs --------------------------------------------------------------------------------


def test_inputs_in_any_order_and_duplicates(server: RunningServer) -> None:
    kwargs = {"inputs": {"prompt": str, "suffix": str}, "outputs": {"out": str}}
    values = {"prompt": "p", "suffix": "s"}
    first = create2(server, "echo_sync", values, order=["prompt", "suffix"], **kwargs)
    second = create2(server, "echo_sync", values, order=["suffix", "prompt"], **kwargs)
    assert first == second
    request = c2.CreateTaskRequest(template=template2("echo_sync", **kwargs))
    request.inputs.CopyFrom(inputs2("echo_sync", values, ["prompt", "suffix", "prompt"], **kwargs))
    code, details = code_of(lambda: stub(server).CreateTask(request, timeout=20))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "'prompt'" in details


def test_template_fields_v1_lacks_are_ignored(server: RunningServer) -> None:
    request = c2.CreateTaskRequest(template=template2("fast_async", inputs={"x": int}))
    request.template.reuse_policy.SetInParent()
    request.template.metadata.debuggable = True
    request.template.metadata.is_entrypoint = True
    request.template.metadata.code_bundle_uri = "s3://bundle"
    request.inputs.CopyFrom(inputs2("fast_async", {"x": 1}, inputs={"x": int}))
    request.inputs.context.add(key="k", value="v")
    request.task_execution_metadata.environment_variables["RUN_NAME"] = "r"
    request.task_execution_metadata.identity.SetInParent()
    meta = stub(server).CreateTask(request, timeout=20).resource_meta
    assert json.loads(meta)["x"] == 1


# -- errors --------------------------------------------------------------------------------


def test_unknown_task_type_is_not_found_on_every_rpc(server: RunningServer) -> None:
    unknown = category("no_such_type")
    meta = b'{"job_id": "x"}'
    calls = {
        "CreateTask": lambda: stub(server).CreateTask(
            c2.CreateTaskRequest(template=template2("no_such_type")), timeout=10
        ),
        "GetTask": lambda: stub(server).GetTask(
            c2.GetTaskRequest(task_category=unknown, resource_meta=meta), timeout=10
        ),
        "DeleteTask": lambda: stub(server).DeleteTask(
            c2.DeleteTaskRequest(task_category=unknown, resource_meta=meta), timeout=10
        ),
        "GetTaskMetrics": lambda: stub(server).GetTaskMetrics(
            c2.GetTaskMetricsRequest(task_category=unknown, resource_meta=meta), timeout=10
        ),
        "GetTaskLogs": lambda: list(
            stub(server).GetTaskLogs(
                c2.GetTaskLogsRequest(task_category=unknown, resource_meta=meta), timeout=10
            )
        ),
        "GetConnector": lambda: svc2.ConnectorMetadataServiceStub(server.channel).GetConnector(
            c2.GetConnectorRequest(name="NoSuchAgent"), timeout=10
        ),
    }
    for name, call in calls.items():
        code, details = code_of(call)
        assert code == grpc.StatusCode.NOT_FOUND, name
        assert "no_such_type" in details or "NoSuchAgent" in details, name


def test_bad_requests_are_invalid_argument(server: RunningServer) -> None:
    missing_z = c2.CreateTaskRequest(template=template2("fast_async", inputs={"x": int, "z": int}))
    missing_z.inputs.CopyFrom(inputs2("fast_async", {"x": 1}, inputs={"x": int}))
    cases = [
        lambda: get2(server, "fast_async", b"not json"),
        lambda: get2(server, "fast_async", b'{"job_id": 1, "x": 0}'),
        lambda: get2(server, "echo_sync", b'{"job_id": "forged"}'),
        lambda: stub(server).CreateTask(c2.CreateTaskRequest(), timeout=10),
        lambda: stub(server).GetTask(c2.GetTaskRequest(resource_meta=b"{}"), timeout=10),
        lambda: stub(server).DeleteTask(
            c2.DeleteTaskRequest(task_category=category("fast_async"), resource_meta=b"["),
            timeout=10,
        ),
        lambda: stub(server).CreateTask(missing_z, timeout=10),
    ]
    for index, case in enumerate(cases):
        code, details = code_of(case)
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (index, details)
    raw = server.channel.unary_unary("/flyteidl2.connector.AsyncConnectorService/CreateTask")
    code, details = code_of(lambda: raw(b"\xff\xff\xff", timeout=10))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "CreateTaskRequest" in details
    get = server.channel.unary_unary("/flyteidl2.connector.AsyncConnectorService/GetTask")
    valid = c2.GetTaskRequest(task_category=category("fast_async"), resource_meta=b"{}")
    bad_connection = valid.SerializeToString() + b"\x2a\x03\x12\x05\x0a"  # 5: truncated map
    code, details = code_of(lambda: get(bad_connection, timeout=10))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "connection" in details
    # Strings that are not UTF-8 (which flyteidl2's proto3 parsers refuse): a secret's value
    # or a config's name in the connection (as {2 secrets, 3 configs} map entries), the output
    # prefix. The secret's bytes are never in the details.
    not_utf8 = b"\xff\xfe\xfd"
    for entries, what in (
        (b"\x12\x0a\x0a\x01k\x12\x05sk-" + not_utf8[:2], "secret 'k', whose value"),
        (b"\x1a\x08\x0a\x03" + not_utf8 + b"\x12\x01v", "a config whose name"),
    ):
        request = valid.SerializeToString() + b"\x2a" + bytes([len(entries)]) + entries
        code, details = code_of(lambda: get(request, timeout=10))
        assert code == grpc.StatusCode.INVALID_ARGUMENT, details
        assert f"connection has {what} is not UTF-8 text" in details
    request = valid.SerializeToString() + b"\x22\x03" + not_utf8  # 4: output_prefix
    code, details = code_of(lambda: get(request, timeout=10))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details == "GetTaskRequest output_prefix is not UTF-8 text"
    create = c2.CreateTaskRequest(template=template2("fast_async")).SerializeToString()
    code, details = code_of(lambda: raw(create + b"\x1a\x03" + not_utf8, timeout=10))
    assert details == "CreateTaskRequest output_prefix is not UTF-8 text"


def test_agent_failure_is_internal_one_line_without_path_or_secret(server: RunningServer) -> None:
    code, details = code_of(lambda: create2(server, "failing"))
    assert code == grpc.StatusCode.INTERNAL
    assert "\n" not in details and "Traceback" not in details
    assert "hunter2-secret-value" not in details and "site-packages" not in details
    assert "ValueError" in details
    resource = get2(server, "failing", b'{"job_id": "f", "x": 0}')
    assert resource.phase == exec2.TaskExecution.FAILED
    assert "hunter2-secret-value" not in resource.message and "***" in resource.message


def test_unimplemented_metrics_and_logs(server: RunningServer) -> None:
    request = c2.GetTaskMetricsRequest(
        task_category=category("slow_async"), resource_meta=b'{"job_id":"s","x":0}'
    )
    code, _ = code_of(lambda: stub(server).GetTaskMetrics(request, timeout=10))
    assert code == grpc.StatusCode.UNIMPLEMENTED
    served = c2.GetTaskMetricsRequest(
        task_category=category("fast_async"), resource_meta=b'{"job_id":"s","x":0}'
    )
    assert list(stub(server).GetTaskMetrics(served, timeout=10).results) == []


# -- phases, logs, metadata ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "phase", "message"),
    [
        ("state-running", exec2.TaskExecution.RUNNING, "running"),
        ("state-succeeded", SUCCEEDED, ""),
        ("error-recoverable", exec2.TaskExecution.RETRYABLE_FAILED, "try later"),
        ("error-fatal", exec2.TaskExecution.FAILED, "BadQuery"),
        ("nothing", exec2.TaskExecution.RETRYABLE_FAILED, "the agent reported no phase"),
    ],
)
def test_phase_is_never_undefined(
    server: RunningServer, kind: str, phase: int, message: str
) -> None:
    meta = create2(server, "legacy_resource", custom={"kind": kind})
    resource = get2(server, "legacy_resource", meta)
    assert (resource.phase, resource.message) == (phase, message)
    raw = stub(server).GetTask(
        c2.GetTaskRequest(task_category=category("legacy_resource"), resource_meta=meta), timeout=10
    )
    assert unknown(raw.resource) == 0  # no v1-only state or agent_error on the wire


def test_flyteidl_resource_too_large_to_receive_is_a_failed_phase(server: RunningServer) -> None:
    """An agent returning a flyteidl Resource (not ``agenthost.Resource``) with outputs over
    the executor's 4 MiB receive limit: a FAILED resource saying so, not a GetTask the client
    cannot receive (RESOURCE_EXHAUSTED, which the executor counts as a system failure)."""
    meta = create2(server, "legacy_resource", custom={"kind": "big-outputs"})
    resource = get2(server, "legacy_resource", meta)
    assert resource.phase == exec2.TaskExecution.FAILED
    assert "4 MiB" in resource.message and not resource.outputs.literals


def test_a_phase_number_that_is_no_phase_is_internal_naming_the_agent(
    server: RunningServer,
) -> None:
    """An agent's flyteidl Resource with phase 99 (a wrong mapping of its platform's states)
    was passed on, and the executor took it as a system error with no word of why."""
    meta = create2(server, "legacy_resource", custom={"kind": "unknown-phase"})
    code, details = code_of(
        lambda: stub(server).GetTask(
            c2.GetTaskRequest(task_category=category("legacy_resource"), resource_meta=meta),
            timeout=10,
        )
    )
    assert code == grpc.StatusCode.INTERNAL
    assert details.startswith(
        "agent LegacyResourceAgent failed to get: ValueError: get returned phase 99, which is "
        "no TaskExecution phase"
    )


def test_logs_stream_lines_and_pages(server: RunningServer) -> None:
    meta = create2(server, "paged_logs")

    def page(lines: int, token: str) -> tuple[list[str], list[str], str]:
        request = c2.GetTaskLogsRequest(
            task_category=category("paged_logs"), resource_meta=meta, lines=lines, token=token
        )
        texts, results, next_token = [], [], None
        for response in stub(server).GetTaskLogs(request, timeout=10):
            if response.HasField("body"):
                texts += [line.message for line in response.body.lines]
                results += list(response.body.results)
            else:
                next_token = response.header.token
        assert next_token is not None
        return texts, results, next_token

    assert page(2, "") == (["line 0", "line 1"], ["line 0", "line 1"], "2")
    assert page(2, "2") == (["line 2", "line 3"], ["line 2", "line 3"], "4")
    assert page(2, "4") == (["line 4"], ["line 4"], "")


def test_list_and_get_connectors(server: RunningServer) -> None:
    metadata = svc2.ConnectorMetadataServiceStub(server.channel)
    connectors = metadata.ListConnectors(c2.ListConnectorsRequest(), timeout=10).connectors
    by_name = {
        c.name: [(t.name, t.version) for t in c.supported_task_categories] for c in connectors
    }
    assert by_name["FastAgent"] == [("fast_async", 0)]
    assert by_name["EchoSyncAgent"] == [("echo_sync", 0)]  # sync agents are listed
    assert by_name["EchoSyncV2"] == [("echo_sync", 2)]
    assert all(unknown(c) == 0 for c in connectors)  # no is_sync, no type strings
    got = metadata.GetConnector(c2.GetConnectorRequest(name="PathSensor"), timeout=10).connector
    assert got.name == "PathSensor"


def test_health_and_reflection_list_v2(server: RunningServer) -> None:
    health = health_pb2_grpc.HealthStub(server.channel)
    for name in ("", *V1_SERVICES, *V2_SERVICES):
        status = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=10).status
        assert status == health_pb2.HealthCheckResponse.SERVING, name
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    reflection = reflection_pb2_grpc.ServerReflectionStub(server.channel)
    requests = iter(
        [
            reflection_pb2.ServerReflectionRequest(list_services=""),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol=V2_SERVICES[0]),
        ]
    )
    listed, described = list(reflection.ServerReflectionInfo(requests, timeout=10))
    names = {s.name for s in listed.list_services_response.service}
    assert set(V2_SERVICES) | set(V1_SERVICES) <= names
    assert described.file_descriptor_response.file_descriptor_proto


def test_drain_flips_every_service_and_refuses_v2_calls(markers: Path) -> None:
    with test_server(markers, "--grace-period", "20", "--metrics-port", "0") as server:
        health = health_pb2_grpc.HealthStub(server.channel)
        watches = {
            name: health.Watch(health_pb2.HealthCheckRequest(service=name), timeout=60)
            for name in ("", *V1_SERVICES, *V2_SERVICES)
        }
        for watch in watches.values():
            assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        slow = c2.CreateTaskRequest(
            template=template2("slow_async", custom={"seconds": 3, "tag": "v2drain"})
        )
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pending = pool.submit(lambda: stub(server).CreateTask(slow, timeout=30))
            wait_for(lambda: (markers / "started-v2drain").exists(), timeout=20)
            server.process.send_signal(signal.SIGTERM)
            for name, watch in watches.items():
                assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING, name
                watch.cancel()

            def refused() -> bool:
                try:
                    svc2.ConnectorMetadataServiceStub(server.channel).ListConnectors(
                        c2.ListConnectorsRequest(), timeout=2
                    )
                except grpc.RpcError as error:
                    return bool(error.code() == grpc.StatusCode.UNAVAILABLE)
                return False

            wait_for(refused, timeout=10)
            assert json.loads(pending.result(timeout=30).resource_meta)["job_id"] == "v2drain"
        assert server.process.wait(timeout=20) == 0


# -- connection ----------------------------------------------------------------------------


@pytest.fixture
def fake_openai() -> Any:
    process = subprocess.Popen(
        [sys.executable, str(FAKE_OPENAI), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        yield "http://" + line.split("listening on ")[1].strip() + "/v1"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _received(base_url: str) -> list[dict[str, Any]]:
    import urllib.request

    with urllib.request.urlopen(base_url.removesuffix("/v1") + "/_test/requests", timeout=10) as r:
        return list(json.load(r))


def test_connection_secret_reaches_the_client_and_nowhere_else(
    markers: Path, fake_openai: str
) -> None:
    secret = "sk-per-task-7f3a9c1d2e"
    connection = security_pb2.Connection(
        secrets={"openai_api_key": secret}, configs={"region": "eu-west"}
    )
    with test_server(markers, "--metrics-port", "0", "--log-level", "DEBUG") as server:
        custom = {"base_url": fake_openai}
        meta = create2(server, "conn_chat", custom=custom, connection=connection)
        (call,) = _received(fake_openai)
        assert call["headers"]["authorization"] == f"Bearer {secret}"
        assert secret.encode() not in meta
        get = c2.GetTaskRequest(
            task_category=category("conn_chat"), resource_meta=meta, connection=connection
        )
        reply = stub(server).GetTask(get, timeout=20)
        assert reply.resource.message == "done with ***"
        assert json_format.MessageToDict(reply.resource.custom_info) == {
            "configs": {"region": "eu-west"},
            "keys": ["openai_api_key"],
        }
        assert secret.encode() not in reply.SerializeToString()
        stub(server).DeleteTask(
            c2.DeleteTaskRequest(
                task_category=category("conn_chat"), resource_meta=meta, connection=connection
            ),
            timeout=20,
        )
        assert (markers / "conn-deleted-['openai_api_key']").exists()
        # The API echoes the key in its 401 error: the status details are scrubbed.
        code, details = code_of(
            lambda: create2(
                server,
                "conn_chat",
                custom={**custom, "model": "error-401"},
                connection=connection,
            )
        )
        assert code == grpc.StatusCode.INTERNAL and secret not in details and "***" in details
        # A v1 call has no connection: the deployment's secret (none here) is the fallback.
        v1 = agent_pb2.CreateTaskRequest(template=make_template("conn_chat", custom=custom))
        code, details = code_of(lambda: server.async_stub.CreateTask(v1, timeout=20))
        assert code == grpc.StatusCode.FAILED_PRECONDITION
        assert details.startswith("secret 'openai_api_key' not found")
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=20)
        logs = server.logs()
    assert "conn_chat" in logs
    assert secret not in logs


def test_connection_secret_echoed_into_custom_info_and_log_links_is_masked(
    server: RunningServer,
) -> None:
    secret = "sk-echoed-3c4d5e6f7a"
    connection = security_pb2.Connection(
        secrets={"openai_api_key": secret}, configs={"echo": "yes"}
    )
    meta = json.dumps({"job_id": "j"}).encode()  # the agent's JobMeta
    get = c2.GetTaskRequest(task_category=category("conn_chat"), resource_meta=meta)
    get.connection.CopyFrom(connection)
    reply = stub(server).GetTask(get, timeout=20)
    assert secret.encode() not in reply.SerializeToString()
    resource = reply.resource
    assert resource.phase == SUCCEEDED
    assert json_format.MessageToDict(resource.custom_info) == {
        "request": {"headers": ["Bearer ***"]},
        "***": "key",
    }
    assert [(link.uri, link.name) for link in resource.log_links] == [
        ("https://api.example.com/?key=***", "***")
    ]


def test_sync_result_in_resource_meta_holds_no_connection_secret(server: RunningServer) -> None:
    """A sync agent's result travels in its resource_meta: a connection secret in its message
    is replaced there (so no later GetTask, with or without the connection, answers it), and
    one in its outputs fails the call as in an async agent's resource_meta."""
    secret = "sk-sync-5e6f7a8b9c"
    connection = security_pb2.Connection(secrets={"api_key": secret})
    meta = create2(server, "conn_sync", custom={"leak": "message"}, connection=connection)
    assert secret.encode() not in base64.b64decode(json.loads(meta)["resource"])
    resource = get2(server, "conn_sync", meta)  # polled without the connection
    assert resource.phase == exec2.TaskExecution.FAILED
    assert resource.message == "the API refused key ***"
    code, details = code_of(
        lambda: create2(server, "conn_sync", outputs={"key": str}, connection=connection)
    )
    assert code == grpc.StatusCode.INTERNAL
    assert "contains the value of connection secret 'api_key'" in details
    assert secret not in details
