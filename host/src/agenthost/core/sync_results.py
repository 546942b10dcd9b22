"""The self-contained ``resource_meta`` of a sync agent run through ``CreateTask``.

``CreateTask`` on a sync agent runs ``do`` and returns its final ``Resource`` inside the
``resource_meta``, so ``GetTask`` on any replica answers from the bytes alone and
``DeleteTask`` succeeds (Flyte 2 has no sync service, and Flyte 1 may call either way).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from flyteidl.admin.agent_pb2 import Resource as ResourceProto
from google.protobuf.message import DecodeError

from agenthost.errors import ResourceMetaError

SYNC_META_MARKER = "agenthost.sync-result"
"""Value of the ``kind`` field of a sync agent's self-contained ``resource_meta``."""

DEFAULT_MAX_SYNC_META_BYTES = 1024 * 1024
"""Largest serialized ``Resource`` a sync agent's ``resource_meta`` may carry (the executor
keeps ``resource_meta`` in the workflow's state, so it must stay small). A larger result is
replaced by a FAILED resource telling the user to call the agent through ExecuteTaskSync."""


@dataclass
class SyncResultMeta:
    """``{"kind": SYNC_META_MARKER, "task_type": ..., "version": ..., "resource": <base64 of
    the serialized flyteidl Resource>}`` as UTF-8 JSON."""

    task_type: str
    version: int
    resource: ResourceProto

    def encode(self) -> bytes:
        """The JSON bytes."""
        return json.dumps(
            {
                "kind": SYNC_META_MARKER,
                "task_type": self.task_type,
                "version": self.version,
                "resource": base64.b64encode(self.resource.SerializeToString()).decode("ascii"),
            },
            separators=(",", ":"),
        ).encode("utf-8")

    @classmethod
    def decode(cls, data: bytes, limit: int = DEFAULT_MAX_SYNC_META_BYTES) -> SyncResultMeta:
        """Strictly decode bytes produced by ``encode``; ``ResourceMetaError`` otherwise."""
        max_bytes = limit * 4 // 3 + 1024
        if len(data) > max_bytes:
            raise ResourceMetaError(
                f"resource_meta is {len(data)} bytes, more than the {max_bytes} allowed for a "
                "sync agent's result"
            )
        try:
            obj = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise ResourceMetaError("resource_meta is not a sync agent result (not JSON)") from None
        if not isinstance(obj, dict) or obj.get("kind") != SYNC_META_MARKER:
            raise ResourceMetaError("resource_meta is not a sync agent result")
        task_type, version, encoded = obj.get("task_type"), obj.get("version"), obj.get("resource")
        if (
            set(obj) != {"kind", "task_type", "version", "resource"}
            or not isinstance(task_type, str)
            or not isinstance(version, int)
            or isinstance(version, bool)
            or not isinstance(encoded, str)
        ):
            raise ResourceMetaError("resource_meta is a malformed sync agent result")
        resource = ResourceProto()
        try:
            resource.ParseFromString(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError, DecodeError):
            raise ResourceMetaError(
                "resource_meta holds an undecodable sync agent result"
            ) from None
        return cls(task_type, version, resource)
