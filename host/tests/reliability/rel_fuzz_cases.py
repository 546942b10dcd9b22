"""Fuzz cases for every RPC of the agent services: hypothesis strategies over flyteidl messages
and raw byte payloads (random, truncated, oversized, invalid UTF-8, deep nesting, pickles).

Shared by the quick fuzz test (``test_rel_fuzz.py``) and the long reliability session.
"""

from __future__ import annotations

import json
import os
import pickle
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from flyteidl.admin import agent_pb2
from flyteidl.core import interface_pb2, literals_pb2, tasks_pb2, types_pb2
from google.protobuf import struct_pb2
from hypothesis import strategies as st
from reliability_kit import check_bad_input_error, problems_in

ASYNC = "/flyteidl.service.AsyncAgentService/"
UNARY_METHODS = {
    ASYNC + "CreateTask": agent_pb2.CreateTaskRequest,
    ASYNC + "GetTask": agent_pb2.GetTaskRequest,
    ASYNC + "DeleteTask": agent_pb2.DeleteTaskRequest,
    ASYNC + "GetTaskMetrics": agent_pb2.GetTaskMetricsRequest,
    "/flyteidl.service.AgentMetadataService/ListAgents": agent_pb2.ListAgentsRequest,
    "/flyteidl.service.AgentMetadataService/GetAgent": agent_pb2.GetAgentRequest,
}
LOGS_METHOD = ASYNC + "GetTaskLogs"
SYNC_METHOD = "/flyteidl.service.SyncAgentService/ExecuteTaskSync"
ALL_METHODS = (*UNARY_METHODS, LOGS_METHOD, SYNC_METHOD)

FUZZED_TYPES = (
    "fast_async",
    "echo_sync",
    "sensor",
    "test_path_sensor",
    "failing",
    "fault_raise",
    "fault_raise_sync",
    "fault_healthy_def",
)
"""Served task types whose agents return promptly whatever the request holds."""

CALL_TIMEOUT = 15.0


class PickleBomb:
    """Unpickling this creates ``path`` (the proof that something unpickled it)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


def pickle_payloads(marker: Path) -> list[bytes]:
    """Pickles of a marker-creating object in every protocol."""
    return [
        pickle.dumps(PickleBomb(marker), protocol=p) for p in range(pickle.HIGHEST_PROTOCOL + 1)
    ]


@dataclass
class Outcome:
    """What the fuzzed server answered, counted by status code."""

    cases: int = 0
    codes: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, code: grpc.StatusCode, problem: str | None) -> None:
        self.cases += 1
        self.codes[code.name] = self.codes.get(code.name, 0) + 1
        if problem is not None:
            self.problems.append(problem)


class RawClient:
    """Sends raw bytes to any method (no serializers) and judges the answer."""

    def __init__(self, channel: grpc.Channel, outcome: Outcome) -> None:
        self.channel = channel
        self.outcome = outcome
        self._unary = {m: channel.unary_unary(m) for m in UNARY_METHODS}
        self._logs = channel.unary_stream(LOGS_METHOD)
        self._sync = channel.stream_stream(SYNC_METHOD)

    def call(self, method: str, payload: bytes | list[bytes]) -> str | None:
        """Call ``method`` with ``payload`` (a list of messages for ExecuteTaskSync); return
        (and record) the problem with the answer, None if it is a defined one."""
        try:
            if method == SYNC_METHOD:
                parts = payload if isinstance(payload, list) else [payload]
                responses = list(self._sync(iter(parts), timeout=CALL_TIMEOUT))
                problem = _check_ok(method, responses)
            elif method == LOGS_METHOD:
                assert isinstance(payload, bytes)
                responses = list(self._logs(payload, timeout=CALL_TIMEOUT))
                problem = _check_ok(method, responses)
            else:
                assert isinstance(payload, bytes)
                problem = _check_ok(method, [self._unary[method](payload, timeout=CALL_TIMEOUT)])
            code = grpc.StatusCode.OK
        except grpc.RpcError as error:
            code = error.code()
            problem = check_bad_input_error(error)
            if problem is not None:
                problem = f"{method}: {problem}"
        self.outcome.add(code, problem)
        return problem


def _check_ok(method: str, responses: list[bytes]) -> str | None:
    """Messages of successful answers must be clean too (no secrets or server paths)."""
    for data in responses:
        message = None
        if method.endswith("/GetTask"):
            message = agent_pb2.GetTaskResponse.FromString(data).resource.message
        elif method == SYNC_METHOD:
            message = agent_pb2.ExecuteTaskSyncResponse.FromString(data).header.resource.message
        if message:
            problems = problems_in(message, multiline_ok=True)
            if problems:
                return f"{method}: resource message {message[:200]!r}: {', '.join(problems)}"
    return None


# -- hypothesis strategies over flyteidl messages ------------------------------------------

names = st.text(max_size=12)
task_types = st.sampled_from(FUZZED_TYPES) | st.text(max_size=30)
json_scalars = (
    st.none() | st.booleans() | st.floats() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(names, inner, max_size=4),
    max_leaves=25,
)
sensor_customs = st.fixed_dictionaries(
    {
        "sensor_module": st.sampled_from(["tests.sensors", "os", "fake_plugins.import_side_effect"])
        | st.text(max_size=20),
        "sensor_name": st.sampled_from(["PathSensor", "system", "X"]) | st.text(max_size=20),
    },
    optional={"sensor_config": json_values},
)
customs = st.dictionaries(names, json_values, max_size=5) | sensor_customs

simple_types = st.sampled_from(list(types_pb2.SimpleType.values()))
literal_types = st.recursive(
    simple_types.map(lambda s: types_pb2.LiteralType(simple=s)),
    lambda inner: (
        inner.map(lambda t: types_pb2.LiteralType(collection_type=t))
        | inner.map(lambda t: types_pb2.LiteralType(map_value_type=t))
    ),
    max_leaves=3,
)


def _primitive(value: Any) -> literals_pb2.Literal:
    if isinstance(value, bool):
        primitive = literals_pb2.Primitive(boolean=value)
    elif isinstance(value, int):
        primitive = literals_pb2.Primitive(integer=value)
    elif isinstance(value, float):
        primitive = literals_pb2.Primitive(float_value=value)
    else:
        primitive = literals_pb2.Primitive(string_value=str(value))
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=primitive))


def _struct_literal(value: dict[str, Any]) -> literals_pb2.Literal:
    generic = struct_pb2.Struct()
    generic.update(value)
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(generic=generic))


literals = st.recursive(
    st.one_of(
        st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(), st.text(max_size=20)
    ).map(_primitive)
    | st.just(literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void())))
    | st.dictionaries(names, json_values, max_size=3).map(_struct_literal)
    | st.binary(max_size=40).map(
        lambda b: literals_pb2.Literal(
            scalar=literals_pb2.Scalar(binary=literals_pb2.Binary(value=b, tag="x"))
        )
    ),
    lambda inner: (
        st.lists(inner, max_size=3).map(
            lambda items: literals_pb2.Literal(
                collection=literals_pb2.LiteralCollection(literals=items)
            )
        )
        | st.dictionaries(names, inner, max_size=3).map(
            lambda items: literals_pb2.Literal(map=literals_pb2.LiteralMap(literals=items))
        )
    ),
    max_leaves=6,
)
input_names = st.sampled_from(["x", "prompt", "path", "y"]) | names
literal_maps = st.dictionaries(input_names, literals, max_size=3).map(
    lambda items: literals_pb2.LiteralMap(literals=items)
)
variable_maps = st.dictionaries(input_names, literal_types, max_size=3).map(
    lambda items: interface_pb2.VariableMap(
        variables={k: interface_pb2.Variable(type=t) for k, t in items.items()}
    )
)


@st.composite
def templates(draw: st.DrawFn) -> tasks_pb2.TaskTemplate:
    """Task templates with any type, version, interface and custom."""
    template = tasks_pb2.TaskTemplate(
        type=draw(task_types),
        task_type_version=draw(
            st.sampled_from([0, 0, 0, 2, -1, 7]) | st.integers(-(2**31), 2**31 - 1)
        ),
    )
    if draw(st.booleans()):
        template.interface.CopyFrom(
            interface_pb2.TypedInterface(inputs=draw(variable_maps), outputs=draw(variable_maps))
        )
    if draw(st.booleans()):
        template.custom.update(draw(customs))
    if draw(st.booleans()):
        template.config.update(draw(st.dictionaries(names, st.text(max_size=10), max_size=3)))
    return template


def _fast_meta(job_id: str, x: Any) -> bytes:
    return json.dumps({"job_id": job_id, "x": x}).encode()


resource_metas = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(_fast_meta, st.text(max_size=20), json_scalars),
    st.builds(
        lambda kind, body: json.dumps(
            {"kind": kind, "task_type": "echo_sync", "version": 0, "resource": body}
        ).encode(),
        st.sampled_from(["agenthost.sync-result", "other"]),
        st.text(max_size=40),
    ),
    st.builds(
        lambda sensor, inputs: json.dumps({"sensor": sensor, "inputs": inputs}).encode(),
        st.sampled_from(["test_path_sensor", "os"]) | st.text(max_size=10),
        st.dictionaries(names, json_values, max_size=2),
    ),
)
categories = st.builds(
    lambda name, version: agent_pb2.TaskCategory(name=name, version=version),
    task_types,
    st.sampled_from([0, 2, 9]) | st.integers(-(2**31), 2**31 - 1),
)


@st.composite
def create_requests(draw: st.DrawFn) -> bytes:
    """Serialized CreateTaskRequests."""
    request = agent_pb2.CreateTaskRequest(output_prefix=draw(st.text(max_size=20)))
    if draw(st.integers(0, 9)):
        request.template.CopyFrom(draw(templates()))
    if draw(st.booleans()):
        request.inputs.CopyFrom(draw(literal_maps))
    return bytes(request.SerializeToString())


@st.composite
def meta_requests(draw: st.DrawFn) -> tuple[str, bytes]:
    """(method, serialized request) for the RPCs that take a ``resource_meta``."""
    method = draw(st.sampled_from(["GetTask", "DeleteTask", "GetTaskMetrics", "GetTaskLogs"]))
    message_type = {
        "GetTask": agent_pb2.GetTaskRequest,
        "DeleteTask": agent_pb2.DeleteTaskRequest,
        "GetTaskMetrics": agent_pb2.GetTaskMetricsRequest,
        "GetTaskLogs": agent_pb2.GetTaskLogsRequest,
    }[method]
    request = message_type(task_type=draw(task_types), resource_meta=draw(resource_metas))
    if draw(st.booleans()):
        request.task_category.CopyFrom(draw(categories))
    return ASYNC + method, request.SerializeToString()


@st.composite
def sync_streams(draw: st.DrawFn) -> list[bytes]:
    """ExecuteTaskSync request streams in any order: header/inputs/empty/junk parts."""
    parts = draw(st.lists(st.sampled_from(["header", "inputs", "empty", "junk"]), max_size=4))
    stream = []
    for part in parts:
        if part == "header":
            header = agent_pb2.CreateRequestHeader(output_prefix=draw(st.text(max_size=10)))
            if draw(st.integers(0, 5)):
                header.template.CopyFrom(draw(templates()))
            stream.append(agent_pb2.ExecuteTaskSyncRequest(header=header).SerializeToString())
        elif part == "inputs":
            stream.append(
                agent_pb2.ExecuteTaskSyncRequest(inputs=draw(literal_maps)).SerializeToString()
            )
        elif part == "empty":
            stream.append(b"")
        else:
            stream.append(draw(st.binary(min_size=1, max_size=50)))
    return stream


metadata_requests = st.one_of(
    st.builds(
        lambda name: (
            "/flyteidl.service.AgentMetadataService/GetAgent",
            agent_pb2.GetAgentRequest(name=name).SerializeToString(),
        ),
        st.sampled_from(["FastAgent", "RaisingAgent"]) | st.text(max_size=30),
    ),
    st.just(("/flyteidl.service.AgentMetadataService/ListAgents", b"")),
)


# -- raw byte cases --------------------------------------------------------------------------


def _nested_struct_bytes(depth: int) -> bytes:
    """A Struct nested ``depth`` levels (built by hand: protobuf refuses to build it)."""

    def length_delimited(field_number: int, payload: bytes) -> bytes:
        return _varint(field_number << 3 | 2) + _varint(len(payload)) + payload

    inner = b""
    for _ in range(depth):
        value = length_delimited(5, inner)  # Value.struct_value
        entry = length_delimited(1, b"a") + length_delimited(2, value)  # map entry
        inner = length_delimited(1, entry)  # Struct.fields
    return inner


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _with_invalid_utf8(message: Any, placeholder: str = "UTF8HOLE") -> bytes:
    return bytes(message.SerializeToString()).replace(
        placeholder.encode(), b"\xff\xfe\xc3\x28\xa0\xa1"
    )


def sample_requests() -> dict[str, bytes]:
    """A valid request per unary method (the base for truncation and corruption)."""
    template = tasks_pb2.TaskTemplate(type="fast_async")
    template.custom.update({"a": [1, 2, {"b": "c"}]})
    meta = _fast_meta("job", 1)
    return {
        ASYNC + "CreateTask": agent_pb2.CreateTaskRequest(
            template=template, output_prefix="s3://bucket/prefix"
        ).SerializeToString(),
        ASYNC + "GetTask": agent_pb2.GetTaskRequest(
            task_type="fast_async", resource_meta=meta
        ).SerializeToString(),
        ASYNC + "DeleteTask": agent_pb2.DeleteTaskRequest(
            task_type="fast_async", resource_meta=meta
        ).SerializeToString(),
        ASYNC + "GetTaskMetrics": agent_pb2.GetTaskMetricsRequest(
            task_type="fast_async", resource_meta=meta
        ).SerializeToString(),
        LOGS_METHOD: agent_pb2.GetTaskLogsRequest(
            task_type="fast_async", resource_meta=meta
        ).SerializeToString(),
        "/flyteidl.service.AgentMetadataService/ListAgents": b"",
        "/flyteidl.service.AgentMetadataService/GetAgent": agent_pb2.GetAgentRequest(
            name="FastAgent"
        ).SerializeToString(),
        SYNC_METHOD: agent_pb2.ExecuteTaskSyncRequest(
            header=agent_pb2.CreateRequestHeader(template=template)
        ).SerializeToString(),
    }


def special_cases(marker: Path, oversized: int) -> Iterator[tuple[str, str, bytes | list[bytes]]]:
    """(label, method, payload) for the hand-made hostile payloads."""
    deep = tasks_pb2.TaskTemplate(type="fast_async").SerializeToString()
    for depth in (50, 99, 101, 500, 5000):
        custom = _varint(16 << 3 | 2) + _varint(len(_nested_struct_bytes(depth)))
        template = deep + custom + _nested_struct_bytes(depth)  # TaskTemplate.custom = 16
        create = _varint(1 << 3 | 2) + _varint(len(template)) + template
        yield f"deep custom {depth}", ASYNC + "CreateTask", create
    for method in ALL_METHODS:
        yield "oversized", method, os.urandom(oversized)
    huge_custom = tasks_pb2.TaskTemplate(type="fast_async")
    huge_custom.custom.update({"blob": "x" * (oversized // 2)})
    yield (
        "huge custom under limit",
        ASYNC + "CreateTask",
        agent_pb2.CreateTaskRequest(template=huge_custom).SerializeToString(),
    )
    many = tasks_pb2.TaskTemplate(type="echo_sync")
    many.custom.update({f"k{i}": i for i in range(20000)})
    yield (
        "20000 custom keys",
        ASYNC + "CreateTask",
        agent_pb2.CreateTaskRequest(template=many).SerializeToString(),
    )
    yield (
        "invalid utf-8 task type",
        ASYNC + "CreateTask",
        _with_invalid_utf8(
            agent_pb2.CreateTaskRequest(template=tasks_pb2.TaskTemplate(type="UTF8HOLE"))
        ),
    )
    yield (
        "invalid utf-8 agent name",
        "/flyteidl.service.AgentMetadataService/GetAgent",
        (_with_invalid_utf8(agent_pb2.GetAgentRequest(name="UTF8HOLE"))),
    )
    yield (
        "invalid utf-8 in header",
        SYNC_METHOD,
        [
            _with_invalid_utf8(
                agent_pb2.ExecuteTaskSyncRequest(
                    header=agent_pb2.CreateRequestHeader(output_prefix="UTF8HOLE")
                )
            )
        ],
    )
    for payload in pickle_payloads(marker):
        for method in ("GetTask", "DeleteTask", "GetTaskMetrics"):
            for task_type in ("fast_async", "echo_sync", "sensor", "fault_raise"):
                request = UNARY_METHODS[ASYNC + method](task_type=task_type, resource_meta=payload)
                yield f"pickle {method}", ASYNC + method, request.SerializeToString()
        yield "pickle as request", ASYNC + "CreateTask", payload
    bad_type = tasks_pb2.TaskTemplate(type="fast_async")
    bad_type.interface.inputs.variables["x"].type.simple = types_pb2.STRING
    inputs = literals_pb2.LiteralMap(literals={"x": _primitive(1.5)})
    yield (
        "input of the wrong type",
        ASYNC + "CreateTask",
        agent_pb2.CreateTaskRequest(template=bad_type, inputs=inputs).SerializeToString(),
    )
    for label, order in {
        "sync: none": [],
        "sync: inputs first": ["inputs", "header"],
        "sync: three messages": ["header", "inputs", "inputs"],
        "sync: header only": ["header"],
        "sync: two headers": ["header", "header"],
    }.items():
        template = tasks_pb2.TaskTemplate(type="echo_sync")
        parts = {
            "header": agent_pb2.ExecuteTaskSyncRequest(
                header=agent_pb2.CreateRequestHeader(template=template)
            ).SerializeToString(),
            "inputs": agent_pb2.ExecuteTaskSyncRequest(
                inputs=literals_pb2.LiteralMap()
            ).SerializeToString(),
        }
        yield label, SYNC_METHOD, [parts[p] for p in order]


def random_cases(seed: int, per_method: int) -> Iterator[tuple[str, bytes | list[bytes]]]:
    """(method, payload): random bytes and truncated/bit-flipped valid requests."""
    rng = random.Random(seed)
    samples = sample_requests()
    for method in ALL_METHODS:
        base = samples[method]
        for i in range(per_method):
            kind = i % 3
            if kind == 0:
                payload = rng.randbytes(rng.randint(0, 512))
            elif kind == 1:
                payload = base[: rng.randint(0, max(0, len(base) - 1))]
            else:
                data = bytearray(base)
                for _ in range(rng.randint(1, 4)):
                    if data:
                        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
                payload = bytes(data)
            yield method, [payload] if method == SYNC_METHOD else payload


Check = Callable[[str, "bytes | list[bytes]"], "str | None"]
