"""Fixtures of the Snowflake tests (``snowflake_support``)."""

from snowflake_support import agent_env, fakesnow, key_pair, server  # noqa: F401
