"""Fixtures and helpers of the Databricks tests (``databricks_support``)."""

from databricks_support import TOKEN, fake, server, server_env  # noqa: F401
