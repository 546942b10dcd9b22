"""The job handle ``create`` returns: the same JSON flytekit's BigQuery connector writes; the
handle flyte-sdk 2's connector writes (with ``user_agent``) is read too."""

from __future__ import annotations

import json
from dataclasses import dataclass

from agent_bigquery.identifiers import check_identifier
from agenthost import ResourceMeta, ResourceMetaError


@dataclass
class BigQueryMetadata(ResourceMeta):
    """Identifies one BigQuery query job: ``{"job_id", "project", "location"}``.

    ``location`` is ``None`` only in handles written by flytekit for tasks configured without a
    location; BigQuery then finds the job by id alone. ``user_agent`` is set only in handles
    flyte-sdk 2's BigQuery connector wrote (``{job_id, project, location, user_agent}``), so
    tasks it started can be polled and cancelled here; it is written back only when set.
    """

    job_id: str
    project: str
    location: str | None
    user_agent: str | None = None

    def encode(self) -> bytes:
        """Compact JSON of flytekit's three keys, plus ``user_agent`` when set."""
        if self.user_agent is not None:
            return super().encode()
        fields = {"job_id": self.job_id, "project": self.project, "location": self.location}
        return json.dumps(fields, separators=(",", ":")).encode("utf-8")

    @classmethod
    def decode(cls, data: bytes) -> BigQueryMetadata:
        """Decode strictly, then check ``job_id``, ``project`` and ``location`` against
        BigQuery's character sets (``ResourceMetaError`` naming the field), so a forged handle
        never reaches the API with a crafted path."""
        meta = super().decode(data)
        field = "resource_meta field '{}'".format
        check_identifier("job_id", meta.job_id, field("job_id"), ResourceMetaError)
        check_identifier("project", meta.project, field("project"), ResourceMetaError)
        if meta.location:
            check_identifier("location", meta.location, field("location"), ResourceMetaError)
        return meta
