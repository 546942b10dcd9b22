"""``ResourceMeta`` (what an async agent hands back from ``create``) and ``Resource`` (a job's
status), the two values every agent speaks in."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from json.scanner import make_scanner
from typing import Any, ClassVar, TypeVar, Union

from flyteidl.admin.agent_pb2 import AgentError
from flyteidl.core.execution_pb2 import TaskExecution, TaskLog
from flyteidl.core.literals_pb2 import LiteralMap

from agenthost.errors import ResourceMetaError

DEFAULT_MAX_RESOURCE_META_BYTES = 64 * 1024
"""Largest ``resource_meta`` (encoded) that ``ResourceMeta.decode`` accepts by default."""

M = TypeVar("M", bound="ResourceMeta")


@dataclass
class ResourceMeta:
    """Base class for an async agent's job handle: subclass it as a ``@dataclass`` whose fields
    are JSON values (``str``, ``int``, ``float``, ``bool``, ``None``, lists and ``dict[str, ...]``
    of those, ``Optional[...]``).

    It is encoded as UTF-8 JSON (the same bytes flytekit's connectors write) and decoded
    strictly: anything but a JSON object whose fields match the dataclass exactly raises
    ``ResourceMetaError``. Nothing is ever unpickled or imported.
    """

    max_encoded_bytes: ClassVar[int] = DEFAULT_MAX_RESOURCE_META_BYTES
    """Upper bound on the encoded size ``decode`` accepts; override per subclass if needed."""

    def encode(self) -> bytes:
        """Encode as compact UTF-8 JSON of the dataclass fields."""
        cls = type(self)
        data: dict[str, Any] = {}
        for name in _SCHEMAS.get(cls) or _schema_of(cls):  # cheaper than a comprehension's frame
            data[name] = getattr(self, name)
        try:
            text = _encode(data)
        except TypeError:  # a dataclass inside an ``Any`` field: let asdict convert it
            text = _ENCODER.encode(dataclasses.asdict(self))
        return text.encode("utf-8")

    @classmethod
    def decode(cls: type[M], data: bytes) -> M:
        """Decode bytes produced by ``encode``; raises ``ResourceMetaError`` naming the problem."""
        name = cls.__name__
        if len(data) > cls.max_encoded_bytes:
            raise ResourceMetaError(
                f"resource_meta is {len(data)} bytes, more than the {cls.max_encoded_bytes} "
                f"allowed for {name}"
            )
        try:
            obj = _loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise ResourceMetaError(f"resource_meta is not valid JSON for {name}") from None
        if not isinstance(obj, dict):
            raise ResourceMetaError(
                f"resource_meta for {name} must be a JSON object, got {_json_kind(obj)}"
            )
        schema = _SCHEMAS.get(cls) or _schema_of(cls)
        if obj.keys() != schema.keys():
            _check_keys(name, obj, schema)
        for key, value in obj.items():
            spec = schema[key]
            if type(value) not in spec.exact and not _conforms(value, spec.annotation):
                raise ResourceMetaError(
                    f"resource_meta field {key!r} of {name} should be "
                    f"{_describe(schema[key].annotation)}, got {_json_kind(value)}"
                )
        return cls(**obj)


def _check_keys(name: str, obj: dict[str, Any], schema: dict[str, _Field]) -> None:
    unknown = sorted(set(obj) - set(schema))
    if unknown:
        raise ResourceMetaError(
            f"resource_meta for {name} has unknown field(s): {', '.join(map(repr, unknown))}"
        )
    missing = sorted(k for k, f in schema.items() if f.required and k not in obj)
    if missing:
        raise ResourceMetaError(
            f"resource_meta for {name} is missing field(s): {', '.join(map(repr, missing))}"
        )


def _reject_constant(token: str) -> Any:
    raise ValueError(f"{token} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_SCAN = make_scanner(_DECODER)  # type: ignore[arg-type]  # typeshed: context is any decoder


def _loads(text: str) -> Any:
    """``_DECODER.decode(text)``, skipping its whitespace handling when there is none."""
    try:
        obj, end = _SCAN(text, 0)
    except StopIteration:  # no JSON value at the very start, e.g. leading whitespace
        return _DECODER.decode(text)
    if end != len(text):  # trailing whitespace (accepted) or extra data (rejected)
        return _DECODER.decode(text)
    return obj


_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def _compact_encoder() -> Callable[[dict[str, Any]], str]:
    """``_ENCODER.encode`` for a dict, with its C encoder built once: ``JSONEncoder.encode``
    builds a new one on every call, which is most of the cost of encoding a small meta."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator (e.g. PyPy)
        return _ENCODER.encode
    chunks = make(
        None,  # no cycle check; a cycle ends in RecursionError, re-encoded below to name it
        _ENCODER.default,
        json.encoder.encode_basestring_ascii,
        None,
        _ENCODER.key_separator,
        _ENCODER.item_separator,
        _ENCODER.sort_keys,
        _ENCODER.skipkeys,
        _ENCODER.allow_nan,
    )

    def encode(data: dict[str, Any]) -> str:
        try:
            return "".join(chunks(data, 0))
        except RecursionError:
            return _ENCODER.encode(data)

    return encode


_encode = _compact_encoder()


@dataclass(frozen=True)
class _Field:
    annotation: Any
    required: bool
    exact: frozenset[type]
    """JSON value types that conform without a closer look (scalars and unions of them)."""


_SCHEMAS: dict[type, dict[str, _Field]] = {}


def _schema_of(cls: type) -> dict[str, _Field]:
    """Field annotations of a ResourceMeta dataclass, resolved once per class."""
    schema = _SCHEMAS.get(cls)
    if schema is None:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls.__name__} must be a dataclass")
        hints = typing.get_type_hints(cls)
        schema = {
            f.name: _Field(
                hints.get(f.name, Any),
                f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
                _exact_types(hints.get(f.name, Any)),
            )
            for f in dataclasses.fields(cls)
            if f.init
        }
        _SCHEMAS[cls] = schema
    return schema


def check_metadata_type(cls: Any) -> None:
    """Raise ``TypeError`` naming the problem unless ``cls`` is a usable ResourceMeta dataclass:
    a ``ResourceMeta`` subclass, a dataclass, every field a JSON-representable annotation."""
    if not (isinstance(cls, type) and issubclass(cls, ResourceMeta)):
        raise TypeError(f"metadata_type {cls!r} is not a ResourceMeta subclass")
    if "__dataclass_fields__" not in vars(cls):
        raise TypeError(f"metadata_type {cls.__name__} is not a @dataclass")
    try:
        schema = _schema_of(cls)
    except Exception as exc:  # unresolvable forward references and the like
        raise TypeError(
            f"metadata_type {cls.__name__} has unresolvable annotations: {exc}"
        ) from None
    for key, f in schema.items():
        if not _supported(f.annotation):
            raise TypeError(
                f"metadata_type {cls.__name__} field {key!r} has type {f.annotation!r}, "
                "which is not JSON-representable"
            )


JSON_SCALARS: dict[Any, tuple[type, ...]] = {
    str: (str,),
    int: (int,),
    float: (int, float),
    bool: (bool,),
    type(None): (type(None),),
}
"""The annotations of JSON scalars, each to the types whose values conform to it (an ``int``
is a valid ``float``; a ``bool`` is an ``int`` to Python, so callers refuse it apart)."""


def _exact_types(annotation: Any) -> frozenset[type]:
    """The types whose values always conform to ``annotation`` (a ``bool`` is no ``int``)."""
    scalar = JSON_SCALARS.get(annotation)
    if scalar is not None:
        return frozenset(scalar)
    if typing.get_origin(annotation) in (Union, types.UnionType):
        members = [_exact_types(a) for a in typing.get_args(annotation)]
        return frozenset().union(*members)
    return frozenset()


def _supported(annotation: Any) -> bool:
    if annotation is Any or annotation in JSON_SCALARS or annotation in (list, dict):
        return True
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        return all(_supported(a) for a in args)
    if origin is list:
        return all(_supported(a) for a in args)
    if origin is dict:
        return bool(args) and args[0] is str and _supported(args[1])
    return False


def _conforms(value: Any, annotation: Any) -> bool:
    if annotation is Any:
        return True
    scalar = JSON_SCALARS.get(annotation)
    if scalar is not None:
        if isinstance(value, bool) and annotation is not bool:
            return False
        return isinstance(value, scalar)
    if annotation is list:
        return isinstance(value, list)
    if annotation is dict:
        return isinstance(value, dict)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        return any(_conforms(value, a) for a in args)
    if origin is list:
        return isinstance(value, list) and all(_conforms(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(_conforms(v, args[1]) for v in value.values())
    return False


def _describe(annotation: Any) -> str:
    if annotation in JSON_SCALARS:
        return {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}.get(
            annotation, "null"
        )
    return str(annotation).replace("typing.", "")


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


@dataclass
class Resource:
    """The status of a job, returned by ``get`` (async) or ``do`` (sync).

    ``outputs`` is a flyteidl ``LiteralMap`` or a dict of plain Python values, which the host
    converts using the task interface. ``custom_info`` is a JSON-like dict shown in Flyte's UI.
    Use ``agent_error`` (or ``Resource.failure(..., retryable=True)``) to tell a recoverable
    failure from a permanent one.
    """

    phase: int
    message: str | None = None
    log_links: list[TaskLog] | None = None
    outputs: LiteralMap | dict[str, Any] | None = None
    custom_info: dict[str, Any] | None = None
    agent_error: AgentError | None = field(default=None)

    @classmethod
    def running(cls, message: str | None = None, **kwargs: Any) -> Resource:
        """A job still in progress."""
        return cls(phase=TaskExecution.RUNNING, message=message, **kwargs)

    @classmethod
    def succeeded(
        cls, outputs: LiteralMap | dict[str, Any] | None = None, **kwargs: Any
    ) -> Resource:
        """A job that finished successfully, with its outputs."""
        return cls(phase=TaskExecution.SUCCEEDED, outputs=outputs, **kwargs)

    @classmethod
    def failure(
        cls, message: str, *, retryable: bool = False, code: str = "", **kwargs: Any
    ) -> Resource:
        """A failed job. ``retryable=True`` gives ``RETRYABLE_FAILED`` (propeller retries the
        task); otherwise ``FAILED``. ``code`` is a short machine-readable error code."""
        kind = AgentError.RECOVERABLE if retryable else AgentError.NON_RECOVERABLE
        return cls(
            phase=TaskExecution.RETRYABLE_FAILED if retryable else TaskExecution.FAILED,
            message=message,
            agent_error=AgentError(
                code=code or ("Retryable" if retryable else "Failed"), kind=kind
            ),
            **kwargs,
        )
