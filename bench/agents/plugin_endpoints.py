"""Imported by flytekit's connector server in the plugins bench (``--modules``): points
flytekit's connectors at the same local emulators agenthost's plugins use, as DNS and ambient
credentials would in a deployment. flytekit's Snowflake connector always connects to
``<account>.snowflakecomputing.com``, so ``snowflake.connector.connect`` gets the emulator's
``SNOWFLAKE_HOST``/``_PORT``/``_PROTOCOL``; its BigQuery connector uses Application Default
Credentials, which are anonymous for the emulator, with its project from
``GOOGLE_CLOUD_PROJECT`` (``google-cloud-bigquery`` itself honours ``BIGQUERY_EMULATOR_HOST``
for the endpoint). Nothing else changes."""

from __future__ import annotations

import os
from typing import Any

if os.environ.get("SNOWFLAKE_HOST"):
    import snowflake.connector

    _connect = snowflake.connector.connect
    _endpoint = {
        "host": os.environ["SNOWFLAKE_HOST"],
        "port": int(os.environ.get("SNOWFLAKE_PORT", "443")),
        "protocol": os.environ.get("SNOWFLAKE_PROTOCOL", "https"),
    }

    def _connect_to_endpoint(**kwargs: Any) -> Any:
        return _connect(**kwargs, **_endpoint)

    snowflake.connector.connect = _connect_to_endpoint

if os.environ.get("BIGQUERY_EMULATOR_HOST"):
    import google.auth
    from google.auth.credentials import AnonymousCredentials

    def _anonymous(*args: Any, **kwargs: Any) -> tuple[Any, str | None]:
        return AnonymousCredentials(), os.environ.get("GOOGLE_CLOUD_PROJECT")

    google.auth.default = _anonymous
