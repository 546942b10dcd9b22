"""Stateless replicas behind a propeller-like round-robin client: three real ``agenthost
serve`` processes, one gRPC channel balancing over all of them with retries on UNAVAILABLE.
Every task's create, gets and delete land on different replicas and succeed, and killing a
replica mid-run (SIGKILL) loses no task."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import textwrap
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import agent_pb2
from flyteidl.core.execution_pb2 import TaskExecution
from flyteidl.service import agent_pb2_grpc
from google.protobuf import json_format

from agenthost.testing import (
    ServerProcess,
    make_template,
    pythonpath_env,
    serve_command,
    start_server,
    wait_for,
)

TASK_TYPE = "replica_probe"
AGENT_MODULE = "replica_probe_agent"
AGENT_SOURCE = '''
"""A stateless async agent whose answers say which process served them."""

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from agenthost import AgentRegistry, AsyncAgentBase, Phase, Resource, ResourceMeta

AGENTHOST_PLUGIN_API = ">=1.0,<2"


@dataclass
class ProbeJob(ResourceMeta):
    """Everything a replica needs to answer for the job: no state lives in the process."""

    job_id: str
    created_by: int
    done_at: float


class ReplicaProbe(AsyncAgentBase):
    """create starts a job that is done a moment later; get and delete work on any replica."""

    def __init__(self):
        super().__init__("replica_probe", ProbeJob, name="ReplicaProbe")

    async def create(self, task_template, inputs=None, **kwargs):
        return ProbeJob(uuid.uuid4().hex, os.getpid(), time.time() + 0.05)

    async def get(self, resource_meta):
        served_by = {"served_by": os.getpid(), "created_by": resource_meta.created_by}
        if time.time() < resource_meta.done_at:
            return Resource(phase=Phase.RUNNING, message="running", custom_info=served_by)
        return Resource.succeeded({}, custom_info=served_by)

    async def delete(self, resource_meta):
        markers = Path(os.environ["REPLICA_PROBE_MARKERS"])
        (markers / f"{resource_meta.job_id}.{os.getpid()}").touch()


AgentRegistry.register(ReplicaProbe())
'''

RETRY_SERVICE_CONFIG = {
    "loadBalancingConfig": [{"round_robin": {}}],
    "methodConfig": [
        {
            "name": [{}],
            "retryPolicy": {
                "maxAttempts": 5,
                "initialBackoff": "0.1s",
                "maxBackoff": "1s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        }
    ],
}
"""What propeller's agent client gets from ``defaultServiceConfig``, plus retries."""


@dataclass
class TaskTrace:
    """Which replica (pid) served each call of one task."""

    job_id: str = ""
    create: int = 0
    gets: list[int] = field(default_factory=list)
    deletes: set[int] = field(default_factory=set)
    phase: int = 0

    def replicas(self) -> set[int]:
        return {self.create, *self.gets, *self.deletes}


@pytest.fixture(scope="module")
def agent_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("replica-agent")
    (folder / f"{AGENT_MODULE}.py").write_text(textwrap.dedent(AGENT_SOURCE))
    (folder / "markers").mkdir()
    return folder


@contextlib.contextmanager
def replicas(agent_dir: Path, count: int) -> Iterator[list[ServerProcess]]:
    env = pythonpath_env(agent_dir, REPLICA_PROBE_MARKERS=str(agent_dir / "markers"))
    command = serve_command(
        "--modules",
        AGENT_MODULE,
        "--strict",
        "--grace-period",
        "2",
    )
    with ThreadPoolExecutor(count) as pool:
        started = [
            f.result() for f in [pool.submit(start_server, command, env) for _ in range(count)]
        ]
    try:
        yield started
    finally:
        for replica in started:
            replica.stop()


def round_robin_channel(servers: list[ServerProcess]) -> grpc.Channel:
    target = "ipv4:" + ",".join(f"127.0.0.1:{s.port}" for s in servers)
    return grpc.insecure_channel(
        target,
        options=[
            ("grpc.service_config", json.dumps(RETRY_SERVICE_CONFIG)),
            ("grpc.enable_retries", 1),
            ("grpc.use_local_subchannel_pool", 1),
        ],
    )


def run_task(stub: agent_pb2_grpc.AsyncAgentServiceStub, markers: Path) -> TaskTrace:
    """What propeller does for one task: create, get until terminal, delete."""
    template = make_template(TASK_TYPE)
    trace = TaskTrace()
    created = stub.CreateTask(
        agent_pb2.CreateTaskRequest(template=template, output_prefix="s3://bucket/out"),
        timeout=10,
    )
    meta = json.loads(created.resource_meta)
    trace.job_id, trace.create = meta["job_id"], meta["created_by"]
    category = agent_pb2.TaskCategory(name=TASK_TYPE, version=0)
    while True:
        got = stub.GetTask(
            agent_pb2.GetTaskRequest(task_category=category, resource_meta=created.resource_meta),
            timeout=10,
        )
        info = json_format.MessageToDict(got.resource.custom_info)
        trace.gets.append(int(info["served_by"]))
        if got.resource.phase in (TaskExecution.SUCCEEDED, TaskExecution.FAILED):
            trace.phase = got.resource.phase
            break
    stub.DeleteTask(
        agent_pb2.DeleteTaskRequest(task_category=category, resource_meta=created.resource_meta),
        timeout=10,
    )
    # More than one marker if a delete reached a replica that died before answering and the
    # client's retry then deleted again elsewhere (deletes are idempotent).
    trace.deletes = {int(marker.suffix[1:]) for marker in markers.glob(f"{trace.job_id}.*")}
    return trace


def warm_up(stub: agent_pb2_grpc.AsyncAgentServiceStub, pids: set[int]) -> None:
    """Create tasks until every replica has answered: the round-robin picker only uses
    connected subchannels, and connections come up one by one."""
    seen: set[int] = set()
    template = make_template(TASK_TYPE)

    def every_replica_answered() -> bool:
        created = stub.CreateTask(agent_pb2.CreateTaskRequest(template=template), timeout=10)
        seen.add(json.loads(created.resource_meta)["created_by"])
        return seen == pids

    wait_for(every_replica_answered, timeout=30)


def test_every_call_of_a_task_may_land_on_any_replica(agent_dir: Path) -> None:
    markers = agent_dir / "markers"
    with replicas(agent_dir, 3) as servers, round_robin_channel(servers) as channel:
        pids = {s.process.pid for s in servers}
        stub = agent_pb2_grpc.AsyncAgentServiceStub(channel)
        warm_up(stub, pids)
        traces = [run_task(stub, markers) for _ in range(9)]
    for trace in traces:
        assert trace.phase == TaskExecution.SUCCEEDED
        assert trace.replicas() <= pids
        assert len(trace.gets) >= 2, "the job should need more than one poll"
        assert len(trace.deletes) == 1
        assert {*trace.gets, *trace.deletes} - {trace.create}, f"only its creator served {trace}"
        assert len(set(trace.gets)) >= 2, f"all gets on one replica: {trace}"
    assert len({t.create for t in traces}) >= 2
    assert {g for t in traces for g in t.gets} == pids
    assert len({d for t in traces for d in t.deletes}) >= 2


def test_killing_a_replica_mid_run_loses_no_task(agent_dir: Path) -> None:
    markers = agent_dir / "markers"
    tasks, concurrency, kill_after = 36, 6, 10
    with replicas(agent_dir, 3) as servers, round_robin_channel(servers) as channel:
        pids = {s.process.pid for s in servers}
        victim = servers[0].process
        stub = agent_pb2_grpc.AsyncAgentServiceStub(channel)
        warm_up(stub, pids)
        finished: list[TaskTrace] = []
        lock = threading.Lock()
        killed = threading.Event()

        def one_task(_: int) -> TaskTrace:
            trace = run_task(stub, markers)
            with lock:
                finished.append(trace)
                if len(finished) == kill_after:
                    os.kill(victim.pid, signal.SIGKILL)
                    killed.set()
            return trace

        with ThreadPoolExecutor(concurrency) as pool:
            traces = list(pool.map(one_task, range(tasks)))
        victim.wait(timeout=10)
        assert killed.is_set()
        assert victim.returncode == -signal.SIGKILL
        survivors = pids - {victim.pid}
        after_kill = traces[kill_after + concurrency :]
    assert len(traces) == tasks
    assert all(t.phase == TaskExecution.SUCCEEDED for t in traces)
    assert len({t.job_id for t in traces}) == tasks
    assert victim.pid in {pid for t in traces[:kill_after] for pid in t.replicas()}
    assert after_kill, "some tasks must start after the kill"
    for trace in after_kill:
        assert trace.replicas() <= survivors, trace
    assert {pid for t in after_kill for pid in t.replicas()} == survivors
