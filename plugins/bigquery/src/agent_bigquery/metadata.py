"""The job handle ``create`` returns: the same JSON flytekit's BigQuery connector writes."""

from __future__ import annotations

from dataclasses import dataclass

from agent_bigquery.identifiers import check_identifier
from agenthost import ResourceMeta, ResourceMetaError


@dataclass
class BigQueryMetadata(ResourceMeta):
    """Identifies one BigQuery query job: ``{"job_id", "project", "location"}``.

    ``location`` is ``None`` only in handles written by flytekit for tasks configured without a
    location; BigQuery then finds the job by id alone.
    """

    job_id: str
    project: str
    location: str | None

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
