"""ResourceMeta encodes as JSON and decodes strictly."""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from typing import Any

import pytest

from agenthost import ResourceMeta, ResourceMetaError, resource
from agenthost.resource import check_metadata_type


@dataclass
class JobMeta(ResourceMeta):
    job_id: str
    project: str
    location: str | None = None
    attempts: int = 0
    labels: dict[str, str] = field(default_factory=dict)


def test_encodes_the_same_json_flytekit_connectors_write() -> None:
    meta = JobMeta(job_id="j1", project="p", location="US")
    assert meta.encode() == (
        b'{"job_id":"j1","project":"p","location":"US","attempts":0,"labels":{}}'
    )
    assert JobMeta.decode(b'{"job_id": "j1", "project": "p", "location": "US"}') == JobMeta(
        "j1", "p", "US"
    )


@dataclass
class AnyMeta(ResourceMeta):
    value: Any


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        'naïve ☃ \U0001f600 "quoted" \\ \n\t\x00',
        0,
        -(2**70),
        1.5,
        1e-300,
        True,
        None,
        [1, [2.25, "x"], {"k": None}],
        {"b": 1, "a": {"z": [True, False]}},
    ],
)
def test_encodes_exactly_what_json_dumps_writes(value: Any) -> None:
    expected = json.dumps({"value": value}, separators=(",", ":"), allow_nan=False)
    assert AnyMeta(value).encode() == expected.encode("utf-8")
    assert AnyMeta.decode(AnyMeta(value).encode()) == AnyMeta(value)


def test_encode_names_values_json_cannot_hold() -> None:
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        AnyMeta(float("nan")).encode()
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="Circular reference detected"):
        AnyMeta(cycle).encode()
    with pytest.raises(TypeError, match="not JSON serializable"):
        AnyMeta({1, 2}).encode()


def test_encoder_without_the_c_accelerator_writes_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(json.encoder, "c_make_encoder", None)
    encode = resource._compact_encoder()
    value = {"a": ["naïve", 1.5, None, {"b": True}]}
    assert encode(value) == resource._encode(value) == json.dumps(value, separators=(",", ":"))


def test_encode_converts_a_dataclass_inside_an_any_field() -> None:
    assert AnyMeta(JobMeta("j", "p")).encode() == (
        b'{"value":{"job_id":"j","project":"p","location":null,"attempts":0,"labels":{}}}'
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80\x04K\x01.", "resource_meta is not valid JSON for JobMeta"),
        (b"[1, 2]", "resource_meta for JobMeta must be a JSON object, got an array"),
        (b'{"job_id": "j"}', "resource_meta for JobMeta is missing field(s): 'project'"),
        (
            b'{"job_id": "j", "project": "p", "x": 1}',
            "resource_meta for JobMeta has unknown field(s): 'x'",
        ),
        (
            b'{"job_id": 5, "project": "p"}',
            "resource_meta field 'job_id' of JobMeta should be a string, got an integer",
        ),
        (
            b'{"job_id": "j", "project": "p", "attempts": true}',
            "resource_meta field 'attempts' of JobMeta should be an integer, got a boolean",
        ),
        (
            b'{"job_id": "j", "project": "p", "labels": {"a": 1}}',
            "resource_meta field 'labels' of JobMeta should be dict[str, str], got an object",
        ),
        (
            b'{"job_id": "j", "project": "p", "attempts": NaN}',
            "resource_meta is not valid JSON for JobMeta",
        ),
        (b"\xff\xfe", "resource_meta is not valid JSON for JobMeta"),
        (b'{"job_id": "j", "project": "p"} {}', "resource_meta is not valid JSON for JobMeta"),
        (b"", "resource_meta is not valid JSON for JobMeta"),
        (b" ", "resource_meta is not valid JSON for JobMeta"),
        (
            b'{"job_id": "j", "project": "p", "location": 1.5}',
            "resource_meta field 'location' of JobMeta should be str | None, got a number",
        ),
    ],
)
def test_decode_rejects_anything_but_an_exact_match(data: bytes, message: str) -> None:
    with pytest.raises(ResourceMetaError) as info:
        JobMeta.decode(data)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "data",
    [
        b'{"job_id":"j","project":"p","location":null}',
        b' \n{"job_id": "j", "project": "p", "location": null}\t ',
        b'{"project":"p","job_id":"j","attempts":0,"labels":{}}',
    ],
)
def test_decode_accepts_any_json_layout(data: bytes) -> None:
    assert JobMeta.decode(data) == JobMeta("j", "p")


@dataclass
class LooseMeta(ResourceMeta):
    ratio: float
    anything: Any = None
    either: int | str = 0


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"ratio": 1}', LooseMeta(1)),
        (b'{"ratio": 0.5, "anything": [1, {"a": null}]}', LooseMeta(0.5, [1, {"a": None}])),
        (b'{"ratio": 2, "either": "x"}', LooseMeta(2, None, "x")),
    ],
)
def test_decode_accepts_every_value_its_annotations_allow(data: bytes, expected: LooseMeta) -> None:
    assert LooseMeta.decode(data) == expected


@pytest.mark.parametrize(
    "data", [b'{"ratio": true}', b'{"ratio": 1, "either": false}', b'{"ratio": "1"}']
)
def test_decode_keeps_booleans_apart_from_numbers(data: bytes) -> None:
    with pytest.raises(ResourceMetaError, match="should be"):
        LooseMeta.decode(data)


def test_decode_rejects_oversized_payloads() -> None:
    data = b'{"job_id": "' + b"x" * (64 * 1024) + b'", "project": "p"}'
    with pytest.raises(ResourceMetaError, match="more than the 65536 allowed for JobMeta"):
        JobMeta.decode(data)


def test_a_pickle_payload_is_never_executed(tmp_path: pytest.TempPathFactory) -> None:
    import os

    marker = f"{tmp_path}/pwned"

    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {marker}",))

    with pytest.raises(ResourceMetaError):
        JobMeta.decode(pickle.dumps(Exploit()))
    assert not os.path.exists(marker)


def test_check_metadata_type_names_the_problem() -> None:
    check_metadata_type(JobMeta)
    with pytest.raises(TypeError, match="is not a ResourceMeta subclass"):
        check_metadata_type(dict)

    class NotADataclass(ResourceMeta):
        pass

    with pytest.raises(TypeError, match="NotADataclass is not a @dataclass"):
        check_metadata_type(NotADataclass)
