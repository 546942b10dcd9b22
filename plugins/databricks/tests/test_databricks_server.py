"""End to end: ``agenthost serve`` (a subprocess, this plugin loaded through its entry point)
calling the local Databricks fake, driven over gRPC with flyteidl's stubs as propeller would."""

from __future__ import annotations

import json
import time

import grpc
import pytest
from databricks_support import TOKEN, server_env
from fake_databricks import FakeDatabricks
from flyteidl.admin import agent_pb2
from flyteidl.core.tasks_pb2 import TaskTemplate
from templates import new_cluster_conf, spark_custom, template

from agenthost.testing import (
    RunningServer,
    run_on_server,
    running_server,
    stop_process,
    unreachable_endpoint,
    wait_for,
)

SPARK = agent_pb2.TaskCategory(name="spark", version=0)
DATABRICKS = agent_pb2.TaskCategory(name="databricks", version=0)


def create(server: RunningServer, built: TaskTemplate) -> bytes:
    request = agent_pb2.CreateTaskRequest(template=built, output_prefix="s3://bucket/out")
    return bytes(server.async_stub.CreateTask(request, timeout=30).resource_meta)


def get(
    server: RunningServer, meta: bytes, category: agent_pb2.TaskCategory = SPARK
) -> agent_pb2.Resource:
    request = agent_pb2.GetTaskRequest(resource_meta=meta, task_category=category)
    return server.async_stub.GetTask(request, timeout=30).resource


def delete(server: RunningServer, meta: bytes, category: agent_pb2.TaskCategory = SPARK) -> None:
    request = agent_pb2.DeleteTaskRequest(resource_meta=meta, task_category=category)
    server.async_stub.DeleteTask(request, timeout=30)


def test_spark_task_runs_to_success_with_a_two_field_handle(
    server: RunningServer, fake: FakeDatabricks
) -> None:
    built = template("spark", spark_custom(new_cluster_conf(), fake.netloc))
    result = run_on_server(server, built)
    assert result.phase_name == "SUCCEEDED", result.message
    phases = [s.phase_name for s in result.statuses]
    assert phases[0] == "RUNNING" and "SUCCEEDED" not in phases[:-1]
    link = result.resource.log_links[0]
    assert link.name == "Databricks Console"
    assert link.uri.startswith(fake.base_url + "/") and "/run/" in link.uri
    submitted = fake.requests_to("runs/submit")[-1]
    assert submitted.authorization == f"Bearer {TOKEN}"
    assert (
        submitted.body["spark_python_task"]["python_file"]
        == "flytekitplugins/databricks/entrypoint.py"
    )
    assert submitted.body["new_cluster"]["docker_image"] == {"url": "ghcr.io/example/spark:latest"}
    assert submitted.body["new_cluster"]["spark_env_vars"]["FLYTE_FAIL_ON_ERROR"] == "true"
    assert submitted.body["new_cluster"]["num_workers"] == 2


def test_handle_is_instance_and_run_id_only(server: RunningServer, fake: FakeDatabricks) -> None:
    meta = create(server, template("databricks", spark_custom(new_cluster_conf(), fake.netloc)))
    decoded = json.loads(meta)
    assert set(decoded) == {"databricks_instance", "run_id"}
    assert decoded["databricks_instance"] == fake.netloc
    assert int(decoded["run_id"]) in fake.state.runs
    assert TOKEN.encode() not in meta


@pytest.mark.parametrize(
    ("run_name", "phase", "words"),
    [
        ("job-fail", "FAILED", "ZeroDivisionError"),
        ("job-timeout", "FAILED", "timed out"),
        ("job-internal", "RETRYABLE_FAILED", "cloud provider error"),
    ],
)
def test_failures_are_phases_with_databricks_message(
    server: RunningServer, fake: FakeDatabricks, run_name: str, phase: str, words: str
) -> None:
    built = template("databricks", spark_custom(new_cluster_conf(run_name), fake.netloc))
    result = run_on_server(server, built)
    assert result.phase_name == phase
    assert words in result.message


def test_delete_cancels_and_is_idempotent(server: RunningServer, fake: FakeDatabricks) -> None:
    meta = create(server, template("spark", spark_custom(new_cluster_conf("slow"), fake.netloc)))
    assert agent_pb2.Resource
    assert get(server, meta).phase == 2  # RUNNING
    delete(server, meta)
    run = fake.state.runs[int(json.loads(meta)["run_id"])]
    assert (run.life_cycle, run.result) == ("TERMINATED", "CANCELED")
    delete(server, meta)  # a finished run: still fine
    resource = get(server, meta)
    assert agent_pb2.Resource.DESCRIPTOR
    assert resource.phase == 5 and "CANCELED" in resource.message  # FAILED
    unknown = json.dumps({"databricks_instance": fake.netloc, "run_id": "999999"}).encode()
    delete(server, unknown)  # never existed: still fine
    assert get(server, unknown).phase == 5


def test_foreign_instance_is_refused_before_any_request(server: RunningServer) -> None:
    with FakeDatabricks({TOKEN}) as foreign:
        built = template("spark", spark_custom(new_cluster_conf(), foreign.netloc))
        with pytest.raises(grpc.RpcError) as caught:
            create(server, built)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "custom.databricksInstance" in caught.value.details()
        assert foreign.netloc in caught.value.details()
        forged = json.dumps({"databricks_instance": foreign.netloc, "run_id": "1"}).encode()
        for call in (get, delete):
            with pytest.raises(grpc.RpcError) as caught:
                call(server, forged)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert foreign.netloc in caught.value.details()
        assert foreign.state.requests == [] and foreign.state.connections == 0


def test_https_instance_is_not_downgraded_to_http(
    server: RunningServer, fake: FakeDatabricks
) -> None:
    built = template("spark", spark_custom(new_cluster_conf(), f"http://{fake.netloc}.example"))
    with pytest.raises(grpc.RpcError) as caught:
        create(server, built)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_flytekit_handle_with_auth_token_is_read_and_its_token_used(
    server: RunningServer, fake: FakeDatabricks
) -> None:
    """flytekit >= 1.16.15 wrote the token into resource_meta; the run keeps working with it."""
    namespace_token = "dapi-namespace-token-abcdef"
    fake.state.tokens.add(namespace_token)
    run_id = next(fake.state.ids)
    from fake_databricks import Run

    fake.state.runs[run_id] = Run(run_id=run_id, job_id=7, spec={"run_name": "flytekit"})
    flytekit_meta = json.dumps(
        {
            "databricks_instance": fake.netloc,
            "run_id": str(run_id),
            "auth_token": namespace_token,
            "auth_type": "pat",
            "client_id": None,
            "oauth_secret_name": "databricks-oauth",
            "oidc_token_file": None,
            "oidc_service_account": None,
            "oidc_audience": None,
            "namespace": "flytesnacks-development",
        }
    ).encode()
    resource = get(server, flytekit_meta, DATABRICKS)
    assert resource.phase == 2
    assert fake.requests_to("runs/get")[-1].authorization == f"Bearer {namespace_token}"
    delete(server, flytekit_meta, DATABRICKS)
    assert fake.requests_to("runs/cancel")[-1].authorization == f"Bearer {namespace_token}"
    assert namespace_token not in server.logs() and TOKEN not in server.logs()


def test_polls_reuse_one_connection(server: RunningServer, fake: FakeDatabricks) -> None:
    meta = create(server, template("spark", spark_custom(new_cluster_conf("slow"), fake.netloc)))
    before = fake.state.connections
    for _ in range(20):
        assert get(server, meta).phase == 2
    assert fake.state.connections - before <= 1
    delete(server, meta)


def test_bad_template_field_is_invalid_argument_naming_it(
    server: RunningServer, fake: FakeDatabricks
) -> None:
    cases = {
        "custom.databricksConf": spark_custom({}, fake.netloc) | {"databricksConf": "nope"},
        "no compute": spark_custom({"run_name": "x"}, fake.netloc),
        "custom.databricksConf.new_cluster": spark_custom({"new_cluster": "big"}, fake.netloc),
        "custom.notebookPath": spark_custom(new_cluster_conf(), fake.netloc, notebookPath=3),
        "custom.databricksConf.environments[0].spec.environment_vars": spark_custom(
            {
                "environments": [
                    {"environment_key": "default", "spec": {"environment_vars": ["A=1"]}}
                ]
            },
            fake.netloc,
        ),
        "custom.databricksAuthType": spark_custom(
            new_cluster_conf(), fake.netloc, databricksAuthType="magic"
        ),
    }
    before = len(fake.state.requests)
    for words, custom in cases.items():
        with pytest.raises(grpc.RpcError) as caught:
            create(server, template("spark", custom))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, words
        assert words in caught.value.details()
    assert len(fake.state.requests) == before


def test_databricks_errors_at_submit(server: RunningServer, fake: FakeDatabricks) -> None:
    built = template("spark", spark_custom(new_cluster_conf(), fake.netloc))
    fake.fail_next(400, "INVALID_PARAMETER_VALUE", "Node type m5.xlarge is not supported")
    with pytest.raises(grpc.RpcError) as caught:
        create(server, built)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Node type m5.xlarge is not supported" in caught.value.details()
    fake.fail_next(429, "REQUEST_LIMIT_EXCEEDED", "Too many requests")
    with pytest.raises(grpc.RpcError) as caught:
        create(server, built)
    assert TOKEN not in caught.value.details()
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "Too many requests" in caught.value.details()
    fake.fail_next(401, "UNAUTHENTICATED", "Invalid access token.")
    with pytest.raises(grpc.RpcError) as caught:
        create(server, built)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "refused the credentials" in caught.value.details()


def test_black_holed_instance_is_unavailable_within_30_s(fake: FakeDatabricks) -> None:
    """Default settings: the request timeout (8 s) bounds a connection that never completes."""
    with unreachable_endpoint() as netloc:
        env = server_env(
            fake, DATABRICKS_INSTANCES=f"http://{netloc}", FLYTE_DATABRICKS_INSTANCE=netloc
        )
        with running_server("--allow", "agent-databricks", env=env) as server:
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as caught:
                create(server, template("spark", spark_custom(new_cluster_conf(), None)))
            assert time.monotonic() - started < 30
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            assert netloc in caught.value.details()
            assert "Traceback" not in caught.value.details()


def test_oauth_m2m_service_principal(fake: FakeDatabricks) -> None:
    fake.add_oauth_client("sp-client", "sp-secret-value-123")
    env = server_env(fake, FLYTE_DATABRICKS_AUTH_TYPE="oauth_m2m", DATABRICKS_CLIENT_ID="sp-client")
    env["_FSEC_DATABRICKS_CLIENT_SECRET"] = "sp-secret-value-123"
    del env["_FSEC_FLYTE_DATABRICKS_ACCESS_TOKEN"]
    tokens_before = len(fake.requests_to("/oidc/v1/token"))
    with running_server("--allow", "agent-databricks", env=env) as server:
        result = run_on_server(
            server, template("spark", spark_custom(new_cluster_conf(), fake.netloc))
        )
        assert result.phase_name == "SUCCEEDED", result.message
        assert "sp-secret-value-123" not in server.logs()
        assert stop_process(server.process) == 0
        wait_for(lambda: "stopped" in server.logs(), timeout=10)
    assert "Unclosed" not in server.logs()  # aclose closed the HTTP session on shutdown
    assert len(fake.requests_to("/oidc/v1/token")) - tokens_before == 1
    assert fake.requests_to("runs/submit")[-1].authorization.startswith("Bearer dapi-oauth-")
    issued = fake.requests_to("runs/submit")[-1].authorization.removeprefix("Bearer ")
    assert issued not in server.logs()
