"""The deployment's Databricks settings, read from the environment on every call (so operators
and tests can change them without restarting anything they did not mean to).

* ``DATABRICKS_INSTANCES``: comma-separated instances the host may call (the allow-list).
  An entry is ``host[:port]`` (HTTPS), ``https://host[:port]`` or, for test servers and
  private endpoints only, an explicit ``http://host[:port]``. Default: ``FLYTE_DATABRICKS_INSTANCE``
  alone.
* ``FLYTE_DATABRICKS_INSTANCE``: the instance of tasks that name none (flytekit's variable).
* ``FLYTE_DATABRICKS_SERVICE_CREDENTIAL_PROVIDER``: passed to serverless runs as flytekit does.
* ``AGENT_DATABRICKS_TIMEOUT_SECONDS``: the limit of one HTTP request, connecting included
  (default 8, inside propeller's 10 s deadline for agent calls).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from agent_databricks.errors import DatabricksConfigurationError
from agenthost import InvalidRequestError, number_from_env

INSTANCES_ENV = "DATABRICKS_INSTANCES"
DEFAULT_INSTANCE_ENV = "FLYTE_DATABRICKS_INSTANCE"
SERVICE_CREDENTIAL_PROVIDER_ENV = "FLYTE_DATABRICKS_SERVICE_CREDENTIAL_PROVIDER"
TIMEOUT_ENV = "AGENT_DATABRICKS_TIMEOUT_SECONDS"
DEFAULT_TIMEOUT_SECONDS = 8.0


@dataclass(frozen=True)
class Instance:
    """One Databricks workspace the host may call."""

    scheme: str
    """``https``, or ``http`` when the allow-list entry says so explicitly."""
    netloc: str
    """``host[:port]``, lower case: the name tasks and ``resource_meta`` use."""

    @property
    def base_url(self) -> str:
        """``scheme://host[:port]``."""
        return f"{self.scheme}://{self.netloc}"


def _split(entry: str) -> tuple[str | None, str]:
    """``(scheme or None, netloc)`` of ``entry``; ``ValueError`` if it is more than an origin."""
    text = entry.strip()
    scheme: str | None = None
    if "://" in text:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise ValueError(f"scheme {scheme!r} is neither http nor https")
        if parts.path.strip("/") or parts.query or parts.fragment:
            raise ValueError("it has a path; give the workspace's host only")
        text = parts.netloc
    text = text.rstrip("/").lower()
    if not text or "/" in text or "@" in text or any(c.isspace() for c in text):
        raise ValueError("it is not a host name")
    return scheme, text


def allowed_instances() -> dict[str, Instance]:
    """The allow-list by ``netloc``: ``$DATABRICKS_INSTANCES``, else
    ``$FLYTE_DATABRICKS_INSTANCE``."""
    raw = os.environ.get(INSTANCES_ENV, "")
    source = INSTANCES_ENV
    if not raw.strip():
        raw = os.environ.get(DEFAULT_INSTANCE_ENV, "")
        source = DEFAULT_INSTANCE_ENV
    instances: dict[str, Instance] = {}
    for entry in raw.split(","):
        if not entry.strip():
            continue
        try:
            scheme, netloc = _split(entry)
        except ValueError as exc:
            raise DatabricksConfigurationError(
                f"${source} entry {entry.strip()!r} is not a Databricks instance: {exc}"
            ) from None
        instances[netloc] = Instance(scheme or "https", netloc)
    return instances


def resolve_instance(requested: str | None, field: str) -> Instance:
    """The allowed ``Instance`` a task or a ``resource_meta`` names (``None``: the default).

    Raises ``InvalidRequestError`` naming ``field`` and the instance if it is not on the
    allow-list (no request is made to it), ``DatabricksConfigurationError`` if the host has no
    instance configured.
    """
    instances = allowed_instances()
    if requested is None or requested == "":
        default = os.environ.get(DEFAULT_INSTANCE_ENV, "").strip()
        if not default:
            raise DatabricksConfigurationError(
                f"no Databricks instance: the task names none ({field}) and "
                f"${DEFAULT_INSTANCE_ENV} is not set"
            )
        requested = default
    try:
        scheme, netloc = _split(requested)
    except ValueError as exc:
        raise InvalidRequestError(
            f"{field} {requested!r} is not a Databricks instance: {exc}"
        ) from None
    instance = instances.get(netloc)
    if instance is None or (scheme is not None and scheme != instance.scheme):
        raise InvalidRequestError(
            f"{field} {requested!r} is not an allowed Databricks instance "
            f"(the operator lists allowed instances in ${INSTANCES_ENV})"
        )
    return instance


def request_timeout() -> float:
    """``$AGENT_DATABRICKS_TIMEOUT_SECONDS`` (default 8)."""
    return number_from_env(TIMEOUT_ENV, DEFAULT_TIMEOUT_SECONDS, minimum=0.001)


def service_credential_provider() -> str | None:
    """``$FLYTE_DATABRICKS_SERVICE_CREDENTIAL_PROVIDER`` (None if unset)."""
    return os.environ.get(SERVICE_CREDENTIAL_PROVIDER_ENV) or None
