"""Sensors: write only ``poke`` and get a full async agent.

``create`` checks the task's inputs against ``poke``'s signature and returns a ``SensorMetadata``
holding the sensor's task type, its inputs and its config (no external job exists); ``get``
calls ``poke``; ``delete`` has nothing to cancel.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import types
import typing
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from agenthost.agent import AsyncAgentBase
from agenthost.connection import current_connection
from agenthost.errors import (
    BackendUnavailableError,
    InvalidRequestError,
    MisconfiguredError,
    summarize,
)
from agenthost.resource import JSON_SCALARS, Resource, ResourceMeta
from agenthost.secrets import mask_secrets
from agenthost.signatures import declares
from agenthost.template import custom_of, input_values
from agenthost.threads import run_blocking

if TYPE_CHECKING:
    from flyteidl.core.literals_pb2 import LiteralMap
    from flyteidl.core.tasks_pb2 import TaskTemplate

CONNECTION_PARAMETER = "connection"
"""A ``poke`` parameter of this name receives the call's ``Connection``, not an input."""

SENSOR_CONFIG_KEY = "sensor_config"
"""Key of the optional sensor configuration dict inside the template's ``custom``."""


@dataclass
class SensorMetadata(ResourceMeta):
    """Everything ``get`` needs to poke again, on any replica."""

    sensor: str
    inputs: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] | None = None
    version: int = 0


@dataclass
class FlytekitSensorMetadata(ResourceMeta):
    """flytekit's sensor metadata, field for field: what the built-in router for task type
    ``sensor`` writes and reads, so sensor tasks survive a switch between flytekit's server and
    agenthost in either direction."""

    sensor_module: str
    sensor_name: str
    sensor_config: dict[str, Any] | None = None
    inputs: dict[str, Any] | None = None


class SensorInputError(InvalidRequestError):
    """The task's inputs do not match the sensor's ``poke`` signature."""


_JSON_TYPES: dict[Any, tuple[type, ...]] = {**JSON_SCALARS, list: (list,), dict: (dict,)}


class BaseSensor(AsyncAgentBase):
    """Base class for sensors. Subclass it and implement ``poke(self, <inputs>) -> bool``
    (``def`` or ``async def``); True means the condition holds.

    ``aliases`` lists flytekit ``(sensor_module, sensor_name)`` pairs this sensor serves for
    templates of task type ``sensor`` (flytekit's own sensors); only registered aliases are
    ever dispatched to and nothing named in a request is imported.

    Exceptions from ``poke`` for which ``is_transient`` is true (network trouble, throttling,
    ``BackendUnavailableError``) keep the task RUNNING with the error in the message;
    ``InvalidRequestError`` and ``MisconfiguredError`` reach the client as their gRPC status;
    any other exception fails the task.
    """

    aliases: ClassVar[tuple[tuple[str, str], ...]] = ()
    kind: ClassVar[str] = "sensor"

    def __init__(
        self,
        task_type: str,
        task_type_version: int = 0,
        *,
        aliases: typing.Iterable[tuple[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(task_type, SensorMetadata, task_type_version, **kwargs)
        if aliases is not None:
            self.aliases = tuple((str(m), str(n)) for m, n in aliases)  # type: ignore[misc]
        self.transient_errors = 0
        """How many transient errors ``poke`` raised in this process (all tasks)."""
        self._poke_params = _poke_parameters(self)
        self._poke_is_async = inspect.iscoroutinefunction(self.poke)
        self._poke_takes_connection = declares(self.poke, CONNECTION_PARAMETER)

    def poke(self, *args: Any, **inputs: Any) -> bool | Awaitable[bool]:
        """Return True once the condition holds. Override with named parameters."""
        raise NotImplementedError

    def is_transient(self, error: BaseException) -> bool:
        """Whether ``error`` from ``poke`` is temporary (the task keeps RUNNING) rather than
        permanent (the task FAILS). Default: connection errors, timeouts and
        ``BackendUnavailableError`` are transient."""
        return isinstance(
            error,
            (ConnectionError, TimeoutError, asyncio.TimeoutError, BackendUnavailableError),
        )

    def describe_wait(self, inputs: dict[str, Any]) -> str:
        """The RUNNING message shown while the condition does not hold yet."""
        shown = ", ".join(f"{k}={_short(v)}" for k, v in inputs.items())
        return f"waiting for {self.name}({shown})"

    def check_inputs(self, inputs: dict[str, Any]) -> None:
        """Raise ``SensorInputError`` naming what is missing, unexpected or mistyped."""
        params = self._poke_params
        missing = [n for n, (_, required) in params.items() if required and n not in inputs]
        if missing:
            raise SensorInputError(
                f"sensor {self.task_type_name!r} is missing input(s): {', '.join(missing)}"
            )
        unexpected = [n for n in inputs if n not in params]
        if unexpected:
            raise SensorInputError(
                f"sensor {self.task_type_name!r} got unexpected input(s): {', '.join(unexpected)}"
            )
        for name, value in inputs.items():
            expected = params[name][0]
            if expected is not None and not _matches(value, expected):
                raise SensorInputError(
                    f"sensor {self.task_type_name!r} input {name!r} should be "
                    f"{getattr(expected, '__name__', expected)}, got {type(value).__name__}"
                )

    async def create(
        self, task_template: TaskTemplate, inputs: LiteralMap | None = None, **kwargs: Any
    ) -> SensorMetadata:
        """Validate the inputs and return the sensor's self-contained metadata."""
        values = input_values(task_template, inputs)
        self.check_inputs(values)
        custom = custom_of(task_template)
        config = custom.get(SENSOR_CONFIG_KEY)
        return SensorMetadata(
            sensor=self.task_type_name,
            inputs=values,
            config=config if isinstance(config, dict) else None,
            version=self.task_type_version,
        )

    async def get(self, resource_meta: SensorMetadata, **kwargs: Any) -> Resource:
        """Poke once: SUCCEEDED if the condition holds, RUNNING otherwise."""
        self.check_inputs(resource_meta.inputs)
        try:
            done = await self._poke(resource_meta.inputs)
        except (InvalidRequestError, MisconfiguredError):
            raise
        except Exception as exc:
            summary = summarize(exc, scrub=mask_secrets)
            if self.is_transient(exc):
                self.transient_errors += 1
                return Resource.running(
                    message=f"{self.describe_wait(resource_meta.inputs)}; transient error: "
                    f"{summary}"
                )
            return Resource.failure(f"sensor {self.name} failed: {summary}")
        if done:
            return Resource.succeeded()
        return Resource.running(message=self.describe_wait(resource_meta.inputs))

    async def delete(self, resource_meta: SensorMetadata, **kwargs: Any) -> None:
        """Nothing to cancel."""

    async def _poke(self, inputs: dict[str, Any]) -> bool:
        if self._poke_takes_connection:
            inputs = {**inputs, CONNECTION_PARAMETER: current_connection()}
        if self._poke_is_async:
            return bool(await self.poke(**inputs))  # type: ignore[misc]
        # A blocking poke runs on the server's bounded pool, within this agent's thread share,
        # with this call's context (its connection).
        return bool(await run_blocking(functools.partial(self.poke, **inputs)))


class SensorRouter(AsyncAgentBase):
    """The built-in agent for flytekit's generic task type ``sensor``: dispatches on the
    template's ``(sensor_module, sensor_name)`` through the alias table that registered sensors
    declare. An unknown pair is an ``InvalidRequestError``; nothing is ever imported."""

    TASK_TYPE: ClassVar[str] = "sensor"

    def __init__(self, sensors: typing.Iterable[BaseSensor]) -> None:
        super().__init__(self.TASK_TYPE, FlytekitSensorMetadata, 0, name="SensorRouter")
        self.by_alias: dict[tuple[str, str], BaseSensor] = {}
        self.by_task_type: dict[str, BaseSensor] = {}
        for sensor in sensors:
            self.by_task_type[sensor.task_type_name] = sensor
            for alias in sensor.aliases:
                self.by_alias.setdefault(alias, sensor)

    def _route(self, task_template: TaskTemplate) -> tuple[tuple[str, str], BaseSensor]:
        custom = custom_of(task_template)
        pair = (str(custom.get("sensor_module", "")), str(custom.get("sensor_name", "")))
        return pair, self._sensor_for_alias(pair)

    def _sensor_for_alias(self, pair: tuple[str, str]) -> BaseSensor:
        sensor = self.by_alias.get(pair)
        if sensor is None:
            known = ", ".join(f"{m}.{n}" for m, n in sorted(self.by_alias)) or "none"
            raise InvalidRequestError(
                f"no sensor registered for sensor_module={pair[0]!r} sensor_name={pair[1]!r} "
                f"(known: {known})"
            )
        return sensor

    async def create(
        self, task_template: TaskTemplate, inputs: LiteralMap | None = None, **kwargs: Any
    ) -> FlytekitSensorMetadata:
        """Validate through the aliased sensor's ``create``; answer in flytekit's shape."""
        pair, sensor = self._route(task_template)
        meta = await sensor.create(task_template, inputs, **kwargs)
        return FlytekitSensorMetadata(
            sensor_module=pair[0],
            sensor_name=pair[1],
            sensor_config=meta.config,
            inputs=meta.inputs,
        )

    def _unpack(self, meta: FlytekitSensorMetadata) -> tuple[BaseSensor, SensorMetadata]:
        sensor = self._sensor_for_alias((meta.sensor_module, meta.sensor_name))
        return sensor, SensorMetadata(
            sensor=sensor.task_type_name,
            inputs=meta.inputs or {},
            config=meta.sensor_config,
            version=sensor.task_type_version,
        )

    async def get(self, resource_meta: FlytekitSensorMetadata, **kwargs: Any) -> Resource:
        """Poke the sensor named by the metadata's alias."""
        sensor, meta = self._unpack(resource_meta)
        return await sensor.get(meta, **kwargs)

    async def delete(self, resource_meta: FlytekitSensorMetadata, **kwargs: Any) -> None:
        """Nothing to cancel (the alias is still checked)."""
        self._unpack(resource_meta)


def _poke_parameters(sensor: BaseSensor) -> dict[str, tuple[Any, bool]]:
    """``poke``'s named parameters: {name: (expected JSON type or None, required)}."""
    poke = sensor.poke
    try:
        hints = typing.get_type_hints(poke)
    except Exception:
        hints = {}
    params: dict[str, tuple[Any, bool]] = {}
    for p in inspect.signature(poke).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name == CONNECTION_PARAMETER:
            continue
        params[p.name] = (_expected_type(hints.get(p.name)), p.default is p.empty)
    return params


def _expected_type(annotation: Any) -> Any:
    if annotation is None:
        return None
    origin = typing.get_origin(annotation) or annotation
    if origin in (typing.Union, types.UnionType):
        return None
    return origin if origin in _JSON_TYPES else None


def _matches(value: Any, expected: Any) -> bool:
    if isinstance(value, bool) and expected is not bool:
        return False
    return isinstance(value, _JSON_TYPES[expected])


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
