"""The deployment's file-sensor settings, read from the environment, the host secrets and the
call's connection on every call: which schemes and local directories paths may use, how long one
check may take, and the S3 credentials."""

from __future__ import annotations

from typing import Any

from agenthost import current_connection, get_secret, number_from_env
from agenthost.connection import EMPTY_CONNECTION, using_connection

ALLOWED_SCHEMES_ENV = "AGENT_FILE_SENSOR_ALLOWED_SCHEMES"
"""Comma-separated further schemes the host allows (e.g. ``abfs,az``)."""

LOCAL_PREFIXES_ENV = "AGENT_FILE_SENSOR_LOCAL_PREFIXES"
"""Comma-separated directories; when set, local paths must be inside one of them."""

POKE_TIMEOUT_ENV = "AGENT_FILE_SENSOR_POKE_TIMEOUT_SECONDS"
"""Longest one check of a path may take before the poke reports the storage unavailable."""

DEFAULT_POKE_TIMEOUT_S = 8.0
"""Within propeller's default 10 s deadline for agent calls."""


def poke_timeout() -> float:
    """``$AGENT_FILE_SENSOR_POKE_TIMEOUT_SECONDS``, else ``DEFAULT_POKE_TIMEOUT_S``;
    ``MisconfiguredError`` if it is not a positive number."""
    return number_from_env(POKE_TIMEOUT_ENV, DEFAULT_POKE_TIMEOUT_S, minimum=0.001)


SECRET_GROUP = "file_sensor"
"""Group of the optional host secrets this plugin reads (see ``storage_options``)."""

_S3_SECRET_OPTIONS = {
    "aws_access_key_id": "key",
    "aws_secret_access_key": "secret",
    "aws_session_token": "token",
}


def storage_options(protocol: str) -> dict[str, Any]:
    """Options for the protocol's filesystem beyond what its backend reads from the standard
    environment by itself (botocore: ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ...; gcsfs:
    ``GOOGLE_APPLICATION_CREDENTIALS``, ``STORAGE_EMULATOR_HOST``, ...).

    For ``s3``/``s3a``: the call's connection secrets ``aws_access_key_id``,
    ``aws_secret_access_key`` and ``aws_session_token`` (Flyte 2: per-task credentials) if it
    has an access key; else host secrets of those names in group ``file_sensor`` (e.g.
    ``_FSEC_FILE_SENSOR_AWS_ACCESS_KEY_ID``), which take precedence over the environment when
    set. The two sources are never mixed.
    """
    if protocol in ("s3", "s3a"):
        per_task = current_connection().secrets
        if per_task.get("aws_access_key_id"):
            return {o: per_task[s] for s, o in _S3_SECRET_OPTIONS.items() if per_task.get(s)}
        options: dict[str, Any] = {}
        with using_connection(EMPTY_CONNECTION):  # get_secret would look at the call's too
            for secret, option in _S3_SECRET_OPTIONS.items():
                value = get_secret(secret, SECRET_GROUP, default="")
                if value:
                    options[option] = value
        return options
    return {}
