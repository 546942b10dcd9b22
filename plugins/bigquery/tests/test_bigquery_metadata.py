"""The job handle is the JSON flytekit's connector writes, in both directions."""

from __future__ import annotations

import json

import pytest
from bq_data import DATA, flytekit_resource_meta

from agent_bigquery.metadata import BigQueryMetadata
from agenthost import ResourceMetaError


def test_flytekit_bytes_decode() -> None:
    recorded = (DATA / "resource_meta_flytekit.json").read_bytes()
    meta = BigQueryMetadata.decode(recorded)
    assert meta == BigQueryMetadata(job_id="flyte-job-1", project="test-project", location="US")


def test_flytekit_bytes_without_location_decode() -> None:
    meta = BigQueryMetadata.decode(flytekit_resource_meta(location=None))
    assert meta.location is None


def test_encoding_has_exactly_flytekits_keys() -> None:
    encoded = BigQueryMetadata(job_id="j", project="p", location="US").encode()
    assert json.loads(encoded) == {"job_id": "j", "project": "p", "location": "US"}


@pytest.mark.parametrize(
    "data",
    [
        b'{"job_id": "j", "project": "p"}',
        b'{"job_id": "j", "project": "p", "location": "US", "extra": 1}',
        b'{"job_id": 1, "project": "p", "location": "US"}',
        b"\x80\x04\x95 pickle",
    ],
)
def test_other_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(ResourceMetaError):
        BigQueryMetadata.decode(data)


def test_flyte_sdk_bytes_decode_and_encode_back_unchanged() -> None:
    written = json.dumps(
        {
            "job_id": "j",
            "project": "p",
            "location": "US",
            "user_agent": "Flyte/2.12.1 (GPN:Union;development)",
        }
    ).encode()
    meta = BigQueryMetadata.decode(written)
    assert (meta.job_id, meta.project, meta.location) == ("j", "p", "US")
    assert json.loads(meta.encode()) == json.loads(written)


def test_encoding_is_byte_for_byte_the_same_as_before() -> None:
    encoded = BigQueryMetadata(job_id="j", project="p", location=None).encode()
    assert encoded == b'{"job_id":"j","project":"p","location":null}'
