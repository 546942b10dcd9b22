"""In-process tests: the runs/submit body of every template shape, the state mapping, the
allow-list, the handle codec and the credential order (the last against the local fake)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from databricks_support import TOKEN
from fake_databricks import FakeDatabricks
from flyteidl.core.tasks_pb2 import TaskTemplate
from google.protobuf import json_format
from templates import new_cluster_conf, spark_custom, template

from agent_databricks.agent import DatabricksAgent, idempotency_token
from agent_databricks.errors import DatabricksConfigurationError
from agent_databricks.metadata import DatabricksMetadata
from agent_databricks.settings import Instance, allowed_instances, resolve_instance
from agent_databricks.status import resource_from_run
from agent_databricks.template import run_spec
from agenthost import Connection, InvalidRequestError

DATA = Path(__file__).parent / "data"
INSTANCE = Instance("https", "myorg.cloud.databricks.com")


# -- runs/submit bodies -------------------------------------------------------------------


def test_classic_new_cluster_gets_image_conf_env_and_entrypoint() -> None:
    built = template("databricks", spark_custom(new_cluster_conf(), "x"), env={"A": "1"})
    body = run_spec(built).body
    cluster = body["new_cluster"]
    assert cluster["docker_image"] == {"url": "ghcr.io/example/spark:latest"}
    assert cluster["spark_conf"] == {"spark.driver.memory": "1g"}
    assert cluster["spark_env_vars"] == {"A": "1", "FLYTE_FAIL_ON_ERROR": "true"}
    assert cluster["num_workers"] == 2 and body["timeout_seconds"] == 3600
    assert body["spark_python_task"]["parameters"][0] == "pyflyte-fast-execute"
    assert body["git_source"]["git_commit"] == "572298df1f971fb58c258398bd70a6372f811c96"


def test_existing_cluster_is_used_as_it_is() -> None:
    conf = {"existing_cluster_id": "0101-abc", "run_name": "r"}
    body = run_spec(template("spark", spark_custom(conf, "x"))).body
    assert body["existing_cluster_id"] == "0101-abc" and "new_cluster" not in body
    assert body["spark_python_task"]["python_file"] == "flytekitplugins/databricks/entrypoint.py"


def test_user_cluster_settings_win_and_env_is_merged() -> None:
    conf = new_cluster_conf()
    conf["new_cluster"] |= {
        "docker_image": {"url": "mine"},
        "spark_conf": {"k": "v"},
        "spark_env_vars": {"B": "2"},
    }
    conf |= {
        "git_source": {
            "git_url": "https://example.com/repo",
            "git_provider": "gitHub",
            "git_branch": "main",
        },
        "python_file": "run.py",
    }
    body = run_spec(template("databricks", spark_custom(conf, "x"), env={"A": "1"})).body
    assert body["new_cluster"]["docker_image"] == {"url": "mine"}
    assert body["new_cluster"]["spark_conf"] == {"k": "v"}
    assert body["new_cluster"]["spark_env_vars"] == {
        "B": "2",
        "A": "1",
        "FLYTE_FAIL_ON_ERROR": "true",
    }
    assert body["git_source"]["git_url"] == "https://example.com/repo"
    assert body["spark_python_task"]["python_file"] == "run.py" and "python_file" not in body


def test_serverless_environment_and_credential_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_DATABRICKS_SERVICE_CREDENTIAL_PROVIDER", "from-env")
    conf = {
        "environment_key": "gpu",
        "environments": [
            {"environment_key": "gpu", "spec": {"client": "2", "dependencies": ["pandas"]}}
        ],
    }
    body = run_spec(template("databricks", spark_custom(conf, "x"), env={"A": "1"})).body
    assert "environment_key" not in body
    (task,) = body["tasks"]
    assert task["environment_key"] == "gpu" and task["task_key"] == "flyte_task"
    assert (
        task["spark_python_task"]["python_file"]
        == "flytekitplugins/databricks/entrypoint_serverless.py"
    )
    assert task["spark_python_task"]["parameters"][-1] == "--flyte-credential-provider=from-env"
    spec = body["environments"][0]["spec"]
    assert spec["environment_vars"] == {"A": "1", "FLYTE_FAIL_ON_ERROR": "true"}
    assert spec["dependencies"] == ["pandas"]
    custom = spark_custom(
        {"environment_key": "new"}, "x", databricksServiceCredentialProvider="task"
    )
    body = run_spec(template("databricks", custom)).body
    assert body["environments"][0]["environment_key"] == "new"
    assert body["environments"][0]["spec"]["client"] == "1"
    assert (
        body["tasks"][0]["spark_python_task"]["parameters"][-1]
        == "--flyte-credential-provider=task"
    )


def test_notebook_with_git_source_classic_and_serverless() -> None:
    git = {"git_url": "https://github.com/acme/nb", "git_provider": "gitHub", "git_branch": "main"}
    conf = new_cluster_conf() | {"git_source": git}
    custom = spark_custom(
        conf, "x", notebookPath="notebooks/etl", notebookBaseParameters={"day": "1"}
    )
    body = run_spec(template("databricks", custom)).body
    assert body["notebook_task"] == {
        "notebook_path": "notebooks/etl",
        "base_parameters": {"day": "1"},
        "source": "GIT",
    }
    assert body["git_source"] == git and "spark_python_task" not in body
    custom = spark_custom({"environment_key": "default"}, "x", notebookPath="/Users/me/nb")
    body = run_spec(template("databricks", custom)).body
    assert body["tasks"] == [
        {
            "task_key": "flyte_notebook_task",
            "notebook_task": {"notebook_path": "/Users/me/nb"},
            "environment_key": "default",
        }
    ]


def test_flyte_sdk_template_uses_its_entrypoint() -> None:
    data = json.loads((DATA / "flyte_sdk_2_12_1_task_template.json").read_text())
    del data["interface"]  # flyteidl2's variables are a list; the rest reads as flyteidl's
    built = json_format.ParseDict(data, TaskTemplate(), ignore_unknown_fields=True)
    spec = run_spec(built)
    assert spec.instance == "myorg.cloud.databricks.com"
    body = spec.body
    assert body["git_source"]["git_commit"] == "194364210c47c49ce66c419e8fb68d6f9c06fd7e"
    assert body["spark_python_task"]["python_file"] == "flyteplugins/databricks/entrypoint.py"
    assert body["spark_python_task"]["parameters"][0] == "a0"
    assert body["new_cluster"]["num_workers"] == 1
    assert "FLYTE_FAIL_ON_ERROR" not in body["new_cluster"]["spark_env_vars"]


def test_template_is_not_modified() -> None:
    built = template("spark", spark_custom(new_cluster_conf(), "x"))
    before = built.SerializeToString(deterministic=True)
    run_spec(built)
    assert built.SerializeToString(deterministic=True) == before


# -- runs/get -> phase --------------------------------------------------------------------


def run(life_cycle: str, result: str | None = None, message: str = "") -> dict[str, Any]:
    state: dict[str, Any] = {"life_cycle_state": life_cycle, "state_message": message}
    if result:
        state["result_state"] = result
    return {"job_id": 5, "run_id": 9, "state": state}


@pytest.mark.parametrize(
    ("answer", "phase"),
    [
        (run("PENDING"), "RUNNING"),
        (run("QUEUED"), "RUNNING"),
        (run("RUNNING"), "RUNNING"),
        (run("TERMINATING"), "RUNNING"),
        (run("TERMINATED", "SUCCESS"), "SUCCEEDED"),
        (run("TERMINATED", "FAILED", "boom"), "FAILED"),
        (run("TERMINATED", "TIMEDOUT"), "FAILED"),
        (run("TERMINATED", "CANCELED"), "FAILED"),
        (run("TERMINATED", "MAXIMUM_CONCURRENT_RUNS_REACHED"), "RETRYABLE_FAILED"),
        (run("TERMINATED"), "FAILED"),
        (run("SKIPPED"), "FAILED"),
        (run("INTERNAL_ERROR", None, "driver lost"), "RETRYABLE_FAILED"),
        ({"run_id": 9}, "RUNNING"),
        (
            {
                "status": {
                    "state": "TERMINATED",
                    "termination_details": {"code": "SUCCESS", "type": "SUCCESS"},
                }
            },
            "SUCCEEDED",
        ),
        (
            {
                "status": {
                    "state": "TERMINATED",
                    "termination_details": {
                        "code": "RUN_EXECUTION_ERROR",
                        "type": "CLIENT_ERROR",
                        "message": "x",
                    },
                }
            },
            "FAILED",
        ),
        (
            {
                "status": {
                    "state": "TERMINATED",
                    "termination_details": {"code": "DRIVER_ERROR", "type": "CLOUD_FAILURE"},
                }
            },
            "RETRYABLE_FAILED",
        ),
        (  # the status form's name for MAXIMUM_CONCURRENT_RUNS_REACHED
            {
                "status": {
                    "state": "TERMINATED",
                    "termination_details": {
                        "code": "MAX_CONCURRENT_RUNS_EXCEEDED",
                        "type": "CLIENT_ERROR",
                    },
                }
            },
            "RETRYABLE_FAILED",
        ),
    ],
)
def test_state_mapping(answer: dict[str, Any], phase: str) -> None:
    from agenthost.phases import phase_name

    resource = resource_from_run(INSTANCE, answer, "9")
    assert phase_name(resource.phase) == phase
    assert resource.log_links and resource.log_links[0].uri.startswith(
        "https://myorg.cloud.databricks.com/"
    )


def test_failure_message_is_databricks_message_on_one_line() -> None:
    resource = resource_from_run(
        INSTANCE, run("TERMINATED", "FAILED", "Task failed:\nValueError\x1b[31m"), "9"
    )
    assert resource.message == "Databricks run FAILED: Task failed: ValueError"


def test_run_page_from_another_host_is_not_trusted() -> None:
    answer = run("RUNNING") | {"run_page_url": "https://evil.example/x"}
    links = resource_from_run(INSTANCE, answer, "9").log_links
    assert links and links[0].uri == "https://myorg.cloud.databricks.com/#job/5/run/9"


# -- allow-list ---------------------------------------------------------------------------


def test_allow_list_defaults_to_the_default_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABRICKS_INSTANCES", raising=False)
    monkeypatch.setenv("FLYTE_DATABRICKS_INSTANCE", "MyOrg.cloud.databricks.com")
    assert allowed_instances() == {
        "myorg.cloud.databricks.com": Instance("https", "myorg.cloud.databricks.com")
    }
    assert resolve_instance(None, "f") == Instance("https", "myorg.cloud.databricks.com")
    assert (
        resolve_instance("https://myorg.cloud.databricks.com/", "f").netloc
        == "myorg.cloud.databricks.com"
    )
    with pytest.raises(
        InvalidRequestError, match=r"custom\.databricksInstance 'other\.cloud\.databricks\.com'"
    ):
        resolve_instance("other.cloud.databricks.com", "custom.databricksInstance")


def test_plain_http_only_when_the_entry_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABRICKS_INSTANCES", "a.example, http://127.0.0.1:9000")
    assert resolve_instance("127.0.0.1:9000", "f").base_url == "http://127.0.0.1:9000"
    assert resolve_instance("a.example", "f").base_url == "https://a.example"
    with pytest.raises(InvalidRequestError):
        resolve_instance("http://a.example", "f")
    for bad in ("a.example/api", "user@a.example", "ftp://a.example"):
        with pytest.raises(InvalidRequestError):
            resolve_instance(bad, "f")


def test_bad_allow_list_and_no_instance_are_configuration_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABRICKS_INSTANCES", "https://a.example/path")
    with pytest.raises(DatabricksConfigurationError, match="DATABRICKS_INSTANCES"):
        allowed_instances()
    monkeypatch.setenv("DATABRICKS_INSTANCES", "a.example")
    monkeypatch.delenv("FLYTE_DATABRICKS_INSTANCE", raising=False)
    with pytest.raises(DatabricksConfigurationError, match="FLYTE_DATABRICKS_INSTANCE"):
        resolve_instance(None, "custom.databricksInstance")


# -- handles ------------------------------------------------------------------------------


def test_handle_never_encodes_a_token() -> None:
    meta = DatabricksMetadata("a.example", "12", auth_token="dapi-secret", namespace="ns")
    assert json.loads(meta.encode()) == {"databricks_instance": "a.example", "run_id": "12"}
    assert "dapi-secret" not in repr(meta)
    flytekit = json.dumps(
        {"databricks_instance": "a.example", "run_id": "12", "auth_token": "t", "auth_type": "pat"}
    )
    assert DatabricksMetadata.decode(flytekit.encode()).auth_token == "t"


def test_a_handles_token_is_a_secret_of_its_call_only() -> None:
    """A token read from a flytekit handle is scrubbed in the call that carried it, and
    forgotten with the call: request values never join the process-wide secrets."""
    import contextvars

    from agent_databricks.agent import _meta_credential
    from agenthost.connection import current_connection
    from agenthost.secrets import known_secret_values

    before = known_secret_values()
    meta = DatabricksMetadata("a.example", "12", auth_token="dapi-from-the-handle")

    def in_the_call() -> list[str]:
        _meta_credential(None, meta)
        return list(current_connection().secrets.values())

    assert contextvars.copy_context().run(in_the_call) == ["dapi-from-the-handle"]
    assert known_secret_values() == before
    assert "dapi-from-the-handle" not in current_connection().secrets.values()


def test_idempotency_token_is_stable_per_attempt() -> None:
    from flyteidl.admin.agent_pb2 import TaskExecutionMetadata
    from flyteidl.core.identifier_pb2 import TaskExecutionIdentifier

    first = TaskExecutionMetadata(task_execution_id=TaskExecutionIdentifier(retry_attempt=0))
    second = TaskExecutionMetadata(task_execution_id=TaskExecutionIdentifier(retry_attempt=1))
    assert idempotency_token(first) == idempotency_token(first)
    assert idempotency_token(first) != idempotency_token(second)
    assert len(idempotency_token(first) or "") <= 64
    assert idempotency_token(None) is None


# -- credentials, in process against the fake ---------------------------------------------


@pytest.fixture
def local_env(fake: FakeDatabricks, monkeypatch: pytest.MonkeyPatch) -> FakeDatabricks:
    monkeypatch.setenv("DATABRICKS_INSTANCES", fake.base_url)
    monkeypatch.setenv("FLYTE_DATABRICKS_INSTANCE", fake.netloc)
    monkeypatch.setenv("_FSEC_FLYTE_DATABRICKS_ACCESS_TOKEN", TOKEN)
    return fake


def test_connection_token_is_used_for_every_call(local_env: FakeDatabricks) -> None:
    task_token = "dapi-connection-token-xyz"
    local_env.state.tokens.add(task_token)
    connection = Connection(secrets={"databricks_token": task_token})
    agent = DatabricksAgent("databricks")

    async def lifecycle() -> None:
        built = template(
            "databricks",
            spark_custom(new_cluster_conf("slow"), local_env.netloc),
            sdk_version="2.12.1",
        )
        meta = await agent.create(built, connection=connection)
        assert task_token not in meta.encode().decode()
        await agent.get(DatabricksMetadata.decode(meta.encode()), connection=connection)
        await agent.delete(DatabricksMetadata.decode(meta.encode()), connection=connection)
        await agent.aclose()

    before = len(local_env.state.requests)
    asyncio.run(lifecycle())
    recorded = local_env.state.requests[before:]
    assert [r.path.rsplit("/", 1)[-1] for r in recorded] == ["submit", "get", "cancel"]
    assert {r.authorization for r in recorded} == {f"Bearer {task_token}"}


def test_missing_credentials_name_the_secret(
    local_env: FakeDatabricks, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("_FSEC_FLYTE_DATABRICKS_ACCESS_TOKEN")
    monkeypatch.setenv("FLYTE_SECRETS_DEFAULT_DIR", "/nonexistent")
    agent = DatabricksAgent("spark")
    built = template("spark", spark_custom(new_cluster_conf(), local_env.netloc))
    with pytest.raises(DatabricksConfigurationError, match="FLYTE_DATABRICKS_ACCESS_TOKEN"):
        asyncio.run(agent.create(built))


def test_a_minted_oauth_token_is_a_secret_of_each_call_that_uses_it(
    local_env: FakeDatabricks, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hourly OAuth token is scrubbed in every call that sends it (fresh or cached), and
    never joins the process-wide secrets: remembered there, every token minted would stay in
    memory, and be searched on every call, for the life of the process."""
    from agent_databricks.clients import OAUTH_TOKEN_SECRET
    from agenthost.connection import current_connection
    from agenthost.secrets import known_secret_values

    local_env.add_oauth_client("sp-units", "sp-units-secret-value")
    monkeypatch.setenv("FLYTE_DATABRICKS_AUTH_TYPE", "oauth_m2m")
    monkeypatch.setenv("DATABRICKS_CLIENT_ID", "sp-units")
    monkeypatch.setenv("_FSEC_DATABRICKS_CLIENT_SECRET", "sp-units-secret-value")
    agent = DatabricksAgent("databricks")
    built = template(
        "databricks", spark_custom(new_cluster_conf("slow"), local_env.netloc), sdk_version="2.12.1"
    )

    async def one_call(run: Any) -> str:
        await run()
        return current_connection().secrets[OAUTH_TOKEN_SECRET]

    async def lifecycle() -> list[str]:
        meta = await agent.create(built)
        handle = DatabricksMetadata.decode(meta.encode())
        # Each call in a task of its own, with its own context, as the server runs them.
        seen = [
            await asyncio.create_task(one_call(lambda: agent.get(handle))),
            await asyncio.create_task(one_call(lambda: agent.delete(handle))),
        ]
        await agent.aclose()
        return seen

    before = known_secret_values()
    earlier = len(local_env.requests_to("runs/get"))
    seen = asyncio.run(lifecycle())
    sent = {r.authorization for r in local_env.requests_to("runs/get")[earlier:]}
    assert seen[0] == seen[1] and {f"Bearer {seen[0]}"} == sent  # the cached token, scrubbed
    assert seen[0] not in known_secret_values()
    assert known_secret_values() - before <= {"sp-units-secret-value"}
