"""The SDK's per-task ``connection``: what agents receive, ``get_secret`` and
``current_connection`` in async and blocking methods, scrubbing and the resource_meta guard."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

import pytest

from agenthost import (
    AsyncAgentBase,
    BaseSensor,
    Connection,
    Resource,
    ResourceMeta,
    SyncAgentBase,
    current_connection,
    get_secret,
)
from agenthost.connection import using_connection
from agenthost.dispatch import AgentCallError, Dispatcher
from agenthost.secrets import known_secret_values
from agenthost.server.scrub import Scrubber
from agenthost.testing import make_template
from agenthost.validation import validate_agent

CONN = Connection(secrets={"api_key": "sk-conn-123456"}, configs={"region": "eu"})


@dataclass
class Meta(ResourceMeta):
    job_id: str


class Declares(AsyncAgentBase):
    """Declares ``connection`` on create/get/delete; blocking ``get``."""

    def __init__(self) -> None:
        super().__init__("declares", Meta)
        self.seen: list[tuple[str, Any, str]] = []

    async def create(self, task_template, inputs=None, *, connection):  # type: ignore[no-untyped-def]
        self.seen.append(("create", connection, get_secret("api_key", default="none")))
        return Meta(job_id="j")

    def get(self, resource_meta, connection):  # type: ignore[no-untyped-def]
        secret = get_secret("api_key", default="none")
        self.seen.append(("get", connection, f"{secret}@{threading.current_thread().name}"))
        return Resource.succeeded()

    async def delete(self, resource_meta, connection=None):  # type: ignore[no-untyped-def]
        self.seen.append(("delete", connection, current_connection().configs.get("region", "")))


class KwargsOnly(AsyncAgentBase):
    """``**kwargs`` does not declare ``connection``: it never receives it."""

    def __init__(self) -> None:
        super().__init__("kwargs", Meta)
        self.kwargs: dict[str, Any] = {}

    def create(self, task_template, inputs=None, **kwargs):  # type: ignore[no-untyped-def]
        self.kwargs = kwargs
        return Meta(job_id=get_secret("api_key", default="none"))

    def get(self, resource_meta, **kwargs):  # type: ignore[no-untyped-def]
        return Resource.succeeded()

    def delete(self, resource_meta, **kwargs):  # type: ignore[no-untyped-def]
        return None


class Sync(SyncAgentBase):
    def __init__(self) -> None:
        super().__init__("sync-conn")

    def do(self, task_template, inputs=None, connection=None):  # type: ignore[no-untyped-def]
        return Resource.succeeded({"key": get_secret("api_key", default="none")[:2]})


class Sensor(BaseSensor):
    def __init__(self) -> None:
        super().__init__("conn-sensor")
        self.seen: list[str] = []

    def poke(self, path: str, connection: Connection) -> bool:
        self.seen.append(f"{path}:{connection.configs.get('region')}:{get_secret('api_key')}")
        return True


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_connection_is_read_only_and_its_repr_hides_values() -> None:
    assert Connection().secrets == {} and not Connection()
    assert CONN and dict(CONN.secrets) == {"api_key": "sk-conn-123456"}
    with pytest.raises(TypeError):
        CONN.secrets["x"] = "y"  # type: ignore[index]
    assert "sk-conn-123456" not in repr(CONN) and "api_key" in repr(CONN)
    assert current_connection() == Connection()


def test_declared_connection_reaches_async_and_blocking_methods() -> None:
    agent = Declares()
    dispatcher = Dispatcher([agent])

    async def lifecycle() -> None:
        meta = await dispatcher.create(make_template("declares"), connection=CONN)
        await dispatcher.get("declares", None, meta, connection=CONN)
        await dispatcher.delete("declares", None, meta, connection=CONN)
        await dispatcher.delete("declares", None, meta)  # a Flyte 1 call: empty connection

    run(lifecycle())
    (create, get, delete, delete_v1) = agent.seen
    assert create == ("create", CONN, "sk-conn-123456")
    assert get[1] == CONN and get[2].startswith("sk-conn-123456@")
    assert get[2] != f"sk-conn-123456@{threading.current_thread().name}"  # ran in the pool
    assert delete == ("delete", CONN, "eu")
    assert delete_v1 == ("delete", Connection(), "")
    assert current_connection() == Connection()


def test_kwargs_methods_never_receive_connection_but_get_secret_sees_it() -> None:
    agent = KwargsOnly()
    meta = run(Dispatcher([agent]).create(make_template("kwargs")))
    assert "connection" not in agent.kwargs and meta == b'{"job_id":"none"}'


def test_resource_meta_holding_a_connection_secret_is_refused() -> None:
    agent = KwargsOnly()
    with pytest.raises(AgentCallError, match="connection secret 'api_key'") as info:
        run(Dispatcher([agent]).create(make_template("kwargs"), connection=CONN))
    assert "sk-conn-123456" not in str(info.value)


def test_sync_agent_and_sensor_see_the_connection() -> None:
    sensor = Sensor()
    dispatcher = Dispatcher([Sync(), sensor])
    meta = run(dispatcher.create(make_template("sync-conn", outputs={"key": str}), connection=CONN))
    resource = run(dispatcher.get("sync-conn", None, meta))
    assert resource.outputs.literals["key"].scalar.primitive.string_value == "sk"
    template = make_template("conn-sensor", inputs={"path": str})
    from agenthost.testing import make_inputs

    inputs = make_inputs(template, {"path": "/x"})
    meta = run(dispatcher.create(template, inputs, connection=CONN))
    run(dispatcher.get("conn-sensor", None, meta, connection=CONN))
    assert sensor.seen == ["/x:eu:sk-conn-123456"]


def test_connection_secrets_are_scrubbed_while_their_call_runs() -> None:
    scrub = Scrubber(paths=[])
    with using_connection(Connection(secrets={"token": "per-task-token-42"})):
        assert scrub("failed with per-task-token-42") == "failed with ***"


def test_connection_secrets_do_not_accumulate_beyond_their_call() -> None:
    for n in range(100):
        with using_connection(Connection(secrets={"token": f"per-task-token-{n:04}"})):
            pass
    assert not any(v.startswith("per-task-token-") for v in known_secret_values())


def test_methods_declaring_connection_pass_validation() -> None:
    assert validate_agent(Declares()) is None
    assert validate_agent(Sensor()) is None
