"""The job handle ``create`` returns: the same JSON flytekit's BigQuery connector writes."""

from __future__ import annotations

from dataclasses import dataclass

from agenthost import ResourceMeta


@dataclass
class BigQueryMetadata(ResourceMeta):
    """Identifies one BigQuery query job: ``{"job_id", "project", "location"}``.

    ``location`` is ``None`` only in handles written by flytekit for tasks configured without a
    location; BigQuery then finds the job by id alone.
    """

    job_id: str
    project: str
    location: str | None
