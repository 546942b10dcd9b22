"""The plugins section of the benchmark: one ``PluginCase`` per first-party plugin measured
against flytekit's connector for the same task type, with the same emulator or fake.

Adding a plugin is one ``PluginCase`` in ``CASES``: the agenthost plugin to load, and a
``backend`` context manager that starts the emulator (or fake) and yields the environment both
servers get plus the template ``CreateTask`` sends. ``run.py`` starts agenthost
(``--allow <plugin>``, the plugins venv) and ``pyflyte serve connector`` (the flytekit+plugins
venv, with ``plugin_endpoints`` imported so flytekit's connectors reach the same emulator),
creates one query through agenthost (both read that ``resource_meta``: the same JSON), and
measures GetTask on it from both servers with the load generator.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Backend:
    """A running emulator: what both servers need to reach it, and the task to create."""

    env: dict[str, str]
    template: Any  # flyteidl TaskTemplate
    inputs: Any = None  # flyteidl LiteralMap


@dataclass(frozen=True)
class PluginCase:
    """One row of the plugins table."""

    name: str
    task_type: str
    allow: str
    """The agenthost plugin (distribution) the agenthost server loads."""
    backend: Callable[[Path], contextlib.AbstractContextManager[Backend]]
    """Starts the emulator (given a scratch directory) and yields the ``Backend``."""


def _plugin_tests(plugin: str) -> None:
    folder = str(ROOT / "plugins" / plugin / "tests")
    if folder not in sys.path:
        sys.path.append(folder)


@contextlib.contextmanager
def snowflake_backend(scratch: Path) -> Iterator[Backend]:
    """fakesnow's server mode (plugins/snowflake/tests) and a key pair for both servers."""
    _plugin_tests("snowflake")
    from snowflake_fake import make_key_pair, running_fakesnow

    from agenthost.testing import make_template

    template = make_template("snowflake", sql="SELECT 1 AS one")
    template.config.update(
        {"account": "myorg-myaccount", "user": "bench", "database": "DB", "schema": "PUBLIC",
         "warehouse": "WH"}
    )  # fmt: skip
    with running_fakesnow() as fake:
        key = make_key_pair().private_pem
        yield Backend({**fake.env, "_FSEC_SNOWFLAKE_PRIVATE_KEY": key}, template)


@contextlib.contextmanager
def bigquery_backend(scratch: Path) -> Iterator[Backend]:
    """The bqemulator BigQuery emulator (plugins/bigquery/tests, its venv built once)."""
    _plugin_tests("bigquery")
    from bq_emulator import ensure_venv, running_emulator

    from agenthost.testing import make_template

    venv = ensure_venv()
    with running_emulator(venv, scratch / "bqemulator.log") as emulator:
        template = make_template(
            "bigquery_query_job_task",
            custom={"ProjectID": emulator.project, "Location": "US"},
            sql="SELECT 1 AS one",
        )
        env = {
            "BIGQUERY_EMULATOR_HOST": emulator.endpoint,
            "GOOGLE_CLOUD_PROJECT": emulator.project,
        }
        yield Backend(env, template)


@contextlib.contextmanager
def databricks_backend(scratch: Path) -> Iterator[Backend]:
    """The Jobs API fake (plugins/databricks/tests) serving HTTPS with a throwaway CA that both
    servers trust through ``SSL_CERT_FILE`` (flytekit's connector only speaks ``https://``)."""
    _plugin_tests("databricks")
    from fake_databricks import FakeDatabricks
    from templates import new_cluster_conf, spark_custom, template

    from agenthost.testing import make_certificates

    certs = make_certificates(scratch, ("127.0.0.1",))
    token = "dapi-bench-0123456789"
    with FakeDatabricks({token}, tls=(str(certs.server_cert), str(certs.server_key))) as fake:
        env = {
            "SSL_CERT_FILE": str(certs.ca),
            "DATABRICKS_INSTANCES": fake.netloc,
            "_FSEC_FLYTE_DATABRICKS_ACCESS_TOKEN": token,
        }
        custom = spark_custom(new_cluster_conf("bench-instant"), fake.netloc)
        yield Backend(env, template("databricks", custom))


CASES: list[PluginCase] = [
    PluginCase("BigQuery", "bigquery_query_job_task", "agent-bigquery", bigquery_backend),
    PluginCase("Snowflake", "snowflake", "agent-snowflake", snowflake_backend),
    PluginCase("Databricks", "databricks", "agent-databricks", databricks_backend),
]
"""Every plugin the section measures, in table order."""

POLLERS = 4
"""Concurrent GetTask callers: a handful of tasks polled at once, as propeller does."""
