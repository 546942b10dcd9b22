"""Built-in agent validators, registered as ``validate_agent`` hook implementations through the
same plugin manager third-party policies use. Signatures are checked against the core's call
contract (``agenthost.core.calls.CALL_CONTRACT``), the one statement of what the host passes."""

from __future__ import annotations

import dataclasses
import re
import typing
from typing import Any

from agenthost.agent import AgentBase, AsyncAgentBase, SyncAgentBase, implements
from agenthost.core.calls import CALL_CONTRACT
from agenthost.hookspecs import hookimpl
from agenthost.resource import ResourceMeta, check_metadata_type
from agenthost.sensor import BaseSensor
from agenthost.signatures import signature_problems

TASK_TYPE_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
"""What a task type name must look like: an identifier, also allowing ``-`` and ``.``."""


@hookimpl
def validate_agent(agent: AgentBase) -> list[str] | None:
    """The built-in checks: base class, task type, methods and signatures, metadata type."""
    if not isinstance(agent, (AsyncAgentBase, SyncAgentBase)):
        return [
            f"{agent!r} is not an AsyncAgentBase or SyncAgentBase instance "
            f"(got {type(agent).__name__})"
        ]
    problems = _task_type_problems(agent)
    required = ["do"] if isinstance(agent, SyncAgentBase) else ["create", "get", "delete"]
    if isinstance(agent, BaseSensor):
        required = ["poke"]
    for method in required:
        if not implements(agent, method):
            problems.append(f"{agent.name} does not implement {method}()")
    for method in [*required, "get_metrics", "get_logs"]:
        fn = getattr(agent, method, None)
        if fn is None or (method not in required and not implements(agent, method)):
            continue
        if not callable(fn):
            problems.append(f"{agent.name}.{method} is not callable")
            continue
        if method == "poke":
            continue
        positional, keywords = CALL_CONTRACT[method]
        problems += [
            f"{agent.name}.{p}" for p in signature_problems(fn, method, positional, keywords)
        ]
    if isinstance(agent, AsyncAgentBase):
        problems += _metadata_problems(agent)
    return problems or None


def _task_type_problems(agent: AgentBase) -> list[str]:
    category = agent.task_category
    problems = []
    if not isinstance(category.name, str) or not TASK_TYPE_PATTERN.match(category.name):
        problems.append(f"{agent.name} has an invalid task type name {category.name!r}")
    if not isinstance(category.version, int) or category.version < 0:
        problems.append(f"{agent.name} has an invalid task type version {category.version!r}")
    return problems


def _metadata_problems(agent: AsyncAgentBase) -> list[str]:
    meta_type = getattr(agent, "metadata_type", None)
    try:
        check_metadata_type(meta_type)
    except TypeError as exc:
        return [f"{agent.name}: {exc}"]
    assert meta_type is not None
    try:
        sample = _sample_instance(meta_type)
        if type(meta_type.decode(sample.encode())) is not meta_type:
            raise ValueError("decoded to another type")
        if meta_type.decode(sample.encode()) != sample:
            raise ValueError("decoded value differs")
    except Exception as exc:  # any failure here is the plugin's problem, reported by name
        return [
            f"{agent.name}: metadata_type {meta_type.__name__} does not round-trip "
            f"through encode/decode ({type(exc).__name__}: {exc})"
        ]
    return []


_SAMPLES: dict[Any, Any] = {str: "x", int: 1, float: 1.5, bool: True, type(None): None}
"""A sample value of each JSON scalar annotation (``agenthost.resource.JSON_SCALARS``)."""


def _sample_value(annotation: Any) -> Any:
    if annotation in _SAMPLES:
        return _SAMPLES[annotation]
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is list or origin is list:
        return [_sample_value(args[0])] if args else []
    if annotation is dict or origin is dict:
        return {"k": _sample_value(args[1])} if args else {}
    if args:
        return _sample_value(args[0])
    return "x"


def _sample_instance(meta_type: type[ResourceMeta]) -> ResourceMeta:
    hints = typing.get_type_hints(meta_type)
    values = {
        f.name: _sample_value(hints.get(f.name, str))
        for f in dataclasses.fields(meta_type)
        if f.init
    }
    return meta_type(**values)
