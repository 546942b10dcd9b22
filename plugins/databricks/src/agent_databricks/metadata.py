"""The run handle ``create`` returns: ``{databricks_instance, run_id}``, as flyte-sdk's
connector writes it. Handles written by flytekit's connector (1.16.15 and later, with
``auth_token`` and its OAuth fields) are read too, so tasks in flight keep working."""

from __future__ import annotations

from dataclasses import dataclass, field

from agenthost import ResourceMeta

IDENTITY_FIELDS = ("databricks_instance", "run_id")
"""The only fields agenthost ever writes."""


@dataclass
class DatabricksMetadata(ResourceMeta):
    """Identifies one Databricks run. Only ``databricks_instance`` and ``run_id`` are ever
    encoded (and compared); the other fields exist to read flytekit's handles and are never
    written back."""

    databricks_instance: str
    run_id: str
    auth_token: str | None = field(default=None, compare=False)
    """flytekit >= 1.16.15 stored the token it created the run with; used only for this
    run's own instance, never encoded."""
    auth_type: str | None = field(default=None, compare=False)
    client_id: str | None = field(default=None, compare=False)
    oauth_secret_name: str | None = field(default=None, compare=False)
    oidc_token_file: str | None = field(default=None, compare=False)
    oidc_service_account: str | None = field(default=None, compare=False)
    oidc_audience: str | None = field(default=None, compare=False)
    namespace: str | None = field(default=None, compare=False)

    def encode(self) -> bytes:
        """Compact JSON of ``databricks_instance`` and ``run_id`` only: no credential, ever."""
        return DatabricksHandle(self.databricks_instance, self.run_id).encode()

    def __repr__(self) -> str:
        return (
            f"DatabricksMetadata(databricks_instance={self.databricks_instance!r}, "
            f"run_id={self.run_id!r})"
        )


@dataclass
class DatabricksHandle(ResourceMeta):
    """The two-field form ``DatabricksMetadata.encode`` writes."""

    databricks_instance: str
    run_id: str
