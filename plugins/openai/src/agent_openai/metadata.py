"""The handle of one batch that ``create`` returns: JSON, or flytekit's pickled form, read
without unpickling (``legacy``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent_openai.headers import is_header_safe
from agent_openai.legacy import looks_pickled, read_flytekit_metadata
from agenthost import ResourceMeta, ResourceMetaError


@dataclass
class BatchEndpointMetadata(ResourceMeta):
    """The handle of one batch, as JSON. ``openai_org`` and ``batch_id`` are the fields of
    flytekit's metadata of the same name; flytekit's pickled form is read too (see
    ``agent_openai.legacy``), so batches started under flytekit can still be polled.

    ``base_url`` is the endpoint the template chose (None: the deployment's), ``result_type`` the
    template's declared type of ``result`` (flyteidl ``LiteralType`` as JSON; None: flytekit's
    msgpack STRUCT). ``error``/``error_retryable`` carry a failure of ``create`` to ``get``.
    """

    openai_org: str | None
    batch_id: str
    base_url: str | None = None
    result_type: dict[str, Any] | None = None
    error: str | None = None
    error_retryable: bool = False

    @classmethod
    def decode(cls, data: bytes) -> BatchEndpointMetadata:
        """Decode our JSON, or the cloudpickle bytes flytekit's connector wrote (parsed, never
        unpickled); an ``openai_org`` no HTTP header can carry is a ``ResourceMetaError``."""
        if looks_pickled(data):
            if len(data) > cls.max_encoded_bytes:
                raise ResourceMetaError(
                    f"resource_meta is larger than {cls.max_encoded_bytes} bytes"
                )
            fields = read_flytekit_metadata(data)
            meta = cls(openai_org=fields["openai_org"], batch_id=str(fields["batch_id"]))
        else:
            meta = super().decode(data)
        if meta.openai_org is not None and not is_header_safe(meta.openai_org):
            raise ResourceMetaError(
                "resource_meta field 'openai_org' holds a line break, a control or a non-ASCII "
                "character, which an HTTP header cannot carry"
            )
        return meta
