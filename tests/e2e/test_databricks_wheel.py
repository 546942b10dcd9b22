"""agent-databricks from its wheel: a ``databricks`` task through ``agenthost serve`` against
the plugin's local Jobs API fake (imported from the plugin's test folder)."""

from __future__ import annotations

import json

from fake_databricks import FakeDatabricks
from templates import new_cluster_conf, spark_custom, template

from agenthost.testing import run_on_server, running_server


def test_a_databricks_run_succeeds_and_its_handle_holds_no_token() -> None:
    token = "dapi-e2e-0123456789"
    with FakeDatabricks({token}) as fake:
        env = {
            "DATABRICKS_INSTANCES": fake.base_url,
            "_FSEC_FLYTE_DATABRICKS_ACCESS_TOKEN": token,
        }
        with running_server("--allow", "agent-databricks", env=env) as server:
            built = template("databricks", spark_custom(new_cluster_conf(), fake.netloc))
            result = run_on_server(server, built)
        assert result.phase_name == "SUCCEEDED", result.message
        assert [r.path.rsplit("/", 1)[-1] for r in fake.state.requests][:1] == ["submit"]
        (run,) = fake.state.runs.values()
        assert json.loads(json.dumps(run.spec))["new_cluster"]["num_workers"] == 2


def test_the_wheel_ships_its_type_information() -> None:
    from importlib.resources import files

    assert files("agent_databricks").joinpath("py.typed").is_file()
