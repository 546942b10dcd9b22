"""Print the versions of the packages that matter to the benchmark, as JSON."""

from __future__ import annotations

import contextlib
import json
import sys
from importlib import metadata

NAMES = (
    "agenthost",
    "flytekit",
    "flyteidl",
    "flyteidl2",
    "flyte",
    "grpcio",
    "protobuf",
    "typer",
    "click",
    "agent-bigquery",
    "agent-openai",
    "agent-file-sensor",
    "flytekitplugins-bigquery",
    "flytekitplugins-openai",
    "google-cloud-bigquery",
    "openai",
    "prometheus-client",
)

found = {}
for name in NAMES:
    with contextlib.suppress(metadata.PackageNotFoundError):
        found[name] = metadata.version(name)
try:
    from google.protobuf.internal import api_implementation

    found["protobuf_backend"] = api_implementation.Type()
except ImportError:
    pass
found["python"] = sys.version.split()[0]
print(json.dumps(found))
