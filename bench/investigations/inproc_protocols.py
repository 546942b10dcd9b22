"""In-process per-call Python cost of the two protocol adapters on the same agents (no network,
no grpc core): the v1 handlers (``AgentServices``) and the v2 handlers (``ConnectorServices``)
fed the request bytes a client sends, against the same work written directly with flyteidl2's
generated classes (the v2 ceiling's Python share: parse, build, serialize). Prints JSON:
microseconds per call (best of 5) per RPC; ``--cpu`` times CPU rather than wall time. Needs
``flyteidl2`` in the venv for the direct suite (``pip install flyteidl2``); run from ``bench/``:
``PYTHONPATH=agents python -m investigations.inproc_protocols``. Supports ``RESULTS.md`` § "One
core, two protocol adapters (issue 19)" and "v2 CreateTask cost (issue 19 §7)"."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import loadgen
from investigations.inproc import Context, load_agents, measure


def v2_requests() -> dict[str, bytes]:
    """The v2 counterparts of the load generator's v1 requests, serialized, with the empty
    ``connection`` the executor sends (as ``loadgen.v2_calls``)."""
    from flyteidl2.connector import connector_pb2 as c2
    from flyteidl2.core import security_pb2, tasks_pb2
    from flyteidl2.core.literals_pb2 import Literal

    connection = security_pb2.Connection()  # empty, as the Flyte 2 executor sends it
    create = c2.CreateTaskRequest(
        template=tasks_pb2.TaskTemplate.FromString(loadgen.ASYNC_TEMPLATE.SerializeToString()),
        output_prefix=loadgen.CREATE_REQUEST.output_prefix,
        connection=connection,
    )
    for name, literal in loadgen.INPUTS.literals.items():
        create.inputs.literals.add(name=name, value=Literal.FromString(literal.SerializeToString()))
    get = c2.GetTaskRequest(
        resource_meta=loadgen.GET_REQUEST.resource_meta,
        task_category=c2.TaskCategory(name="bench_async"),
        connection=connection,
    )
    return {"CreateTask": create.SerializeToString(), "GetTask": get.SerializeToString()}


def adapter_calls(services: Any, requests: dict[str, bytes]) -> dict[str, Any]:
    ctx = Context()
    return {
        "GetTask": lambda: services.get_task(requests["GetTask"], ctx),
        "CreateTask": lambda: services.create_task(requests["CreateTask"], ctx),
    }


def direct_v2_calls(requests: dict[str, bytes]) -> dict[str, Any]:
    from flyteidl2.connector import connector_pb2 as c2
    from flyteidl2.core import execution_pb2

    succeeded = execution_pb2.TaskExecution.SUCCEEDED

    async def get_task() -> bytes:
        request = c2.GetTaskRequest.FromString(requests["GetTask"])
        json.loads(request.resource_meta)
        resource = c2.Resource(phase=succeeded)
        named = resource.outputs.literals.add(name="result")
        named.value.scalar.primitive.string_value = "done"
        return c2.GetTaskResponse(resource=resource).SerializeToString()

    async def create_task() -> bytes:
        c2.CreateTaskRequest.FromString(requests["CreateTask"])
        meta = json.dumps({"job_id": "job-1"}).encode()
        return c2.CreateTaskResponse(resource_meta=meta).SerializeToString()

    return {"GetTask": get_task, "CreateTask": create_task}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=0.3)
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="time with this thread's CPU time instead of the wall clock (steadier on a "
        "shared machine)",
    )
    args = parser.parse_args()
    if args.cpu:
        time.perf_counter = time.thread_time  # what inproc.per_call_us reads

    from agenthost.dispatch import Dispatcher
    from agenthost.protocols.v1.services import AgentServices
    from agenthost.protocols.v2.services import ConnectorServices
    from agenthost.server.metrics import Metrics

    dispatcher = Dispatcher(load_agents("agents_bench"))
    v1 = {
        "GetTask": loadgen.GET_REQUEST.SerializeToString(),
        "CreateTask": loadgen.CREATE_REQUEST.SerializeToString(),
    }
    v2 = v2_requests()
    suites = {
        "v1 adapter": adapter_calls(AgentServices(dispatcher, Metrics()), v1),
        "v2 adapter": adapter_calls(ConnectorServices(dispatcher, Metrics()), v2),
        "v2 direct (flyteidl2 classes)": direct_v2_calls(v2),
    }
    print(json.dumps(await measure(suites, args.seconds), indent=1))


if __name__ == "__main__":
    asyncio.run(main())
