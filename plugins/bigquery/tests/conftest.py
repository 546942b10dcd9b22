"""Fixtures: the bqemulator BigQuery emulator and a client on it (``bigquery_support``)."""

from bigquery_support import bigquery_emulator, bq_client  # noqa: F401
