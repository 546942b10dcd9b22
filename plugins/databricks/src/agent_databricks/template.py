"""A ``spark``/``databricks`` task template -> the body of Jobs API 2.1 ``runs/submit``,
built exactly as the SDK that wrote the template builds it.

``custom`` (flytekit's ``SparkJob`` as JSON, plus the Databricks fields):

* ``databricksConf``: the ``runs/submit`` body (required): ``new_cluster`` or
  ``existing_cluster_id`` (classic compute), or ``environment_key``/``environments``
  (serverless), optional ``git_source``, ``python_file``, ``run_name``, ``timeout_seconds``...;
* ``databricksInstance``: the workspace (``$FLYTE_DATABRICKS_INSTANCE`` if absent);
* ``sparkConf``: the new cluster's ``spark_conf`` unless it sets its own;
* ``notebookPath``, ``notebookBaseParameters``: run a notebook instead of the entrypoint;
* ``databricksServiceCredentialProvider``: passed to serverless runs;
* ``databricksAuthType``, ``databricksClientId``: credentials (see ``credentials``).

The container's image runs on a new cluster, its arguments are the entrypoint's parameters
and its environment variables are injected into the cluster (``spark_env_vars``) or the
serverless environment (``environment_vars``), with ``FLYTE_FAIL_ON_ERROR=true`` for flytekit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agenthost import InvalidRequestError, custom_of

if TYPE_CHECKING:
    from flyteidl.core.tasks_pb2 import TaskTemplate

FLYTE_FAIL_ON_ERROR = "FLYTE_FAIL_ON_ERROR"


@dataclass(frozen=True)
class Entrypoint:
    """The Python file in flyteorg/flytetools that starts a task on Databricks."""

    commit: str
    classic_file: str
    serverless_file: str

    def git_source(self) -> dict[str, str]:
        """``git_source`` of ``runs/submit`` for this entrypoint."""
        return {
            "git_url": "https://github.com/flyteorg/flytetools",
            "git_provider": "gitHub",
            "git_commit": self.commit,
        }


FLYTEKIT_ENTRYPOINT = Entrypoint(
    commit="572298df1f971fb58c258398bd70a6372f811c96",
    classic_file="flytekitplugins/databricks/entrypoint.py",
    serverless_file="flytekitplugins/databricks/entrypoint_serverless.py",
)
"""What flytekit 1.16.31's connector submits."""

FLYTE_SDK_ENTRYPOINT = Entrypoint(
    commit="194364210c47c49ce66c419e8fb68d6f9c06fd7e",
    classic_file="flyteplugins/databricks/entrypoint.py",
    serverless_file="flyteplugins/databricks/entrypoint.py",
)
"""What flyte-sdk 2.12.1's connector submits."""


@dataclass(frozen=True)
class RunSpec:
    """What a template asks for."""

    body: dict[str, Any]
    """The ``runs/submit`` request body."""
    instance: str | None
    """``custom.databricksInstance`` (None: the deployment's default)."""
    auth_type: str | None
    client_id: str | None


def is_flyte_sdk(task_template: TaskTemplate) -> bool:
    """Whether flyte-sdk (Flyte 2) wrote the template: its runtime version is 2.x, or its
    container runs flyte-sdk's ``a0`` entrypoint."""
    version = task_template.metadata.runtime.version if task_template.HasField("metadata") else ""
    major = version.split(".", 1)[0]
    if major.isdigit():
        return int(major) >= 2
    args = task_template.container.args if task_template.HasField("container") else []
    return bool(args) and args[0] == "a0"


def run_spec(task_template: TaskTemplate) -> RunSpec:
    """Parse ``task_template``; ``InvalidRequestError`` names the field that is wrong."""
    custom = custom_of(task_template)
    conf = custom.get("databricksConf")
    if not isinstance(conf, dict):
        raise InvalidRequestError(
            "custom.databricksConf (the Databricks runs/submit body) is required and must be "
            "an object"
        )
    body: dict[str, Any] = integral_numbers(conf)
    has_cluster = body.get("existing_cluster_id") is not None or body.get("new_cluster") is not None
    serverless = not has_cluster and bool(body.get("environment_key") or body.get("environments"))
    if not has_cluster and not serverless:
        raise InvalidRequestError(
            "custom.databricksConf has no compute: give existing_cluster_id or new_cluster "
            "(classic) or environment_key/environments (serverless)"
        )
    _check_types(body, custom)
    container = task_template.container if task_template.HasField("container") else None
    envs = {kv.key: kv.value for kv in container.env} if container is not None else {}
    args = list(container.args) if container is not None else []
    image = container.image if container is not None else ""
    entrypoint = FLYTE_SDK_ENTRYPOINT if is_flyte_sdk(task_template) else FLYTEKIT_ENTRYPOINT
    if entrypoint is FLYTEKIT_ENTRYPOINT:
        envs[FLYTE_FAIL_ON_ERROR] = "true"
    notebook = custom.get("notebookPath")
    if notebook:
        _notebook_body(body, custom, image, envs, serverless)
    else:
        _python_file_body(body, custom, image, envs, args, serverless, entrypoint)
    return RunSpec(
        body=body,
        instance=_optional_str(custom, "databricksInstance"),
        auth_type=_optional_str(custom, "databricksAuthType"),
        client_id=_optional_str(custom, "databricksClientId"),
    )


def _optional_str(custom: dict[str, Any], key: str) -> str | None:
    value = custom.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidRequestError(f"custom.{key} must be a string")
    return value


def _check_types(body: dict[str, Any], custom: dict[str, Any]) -> None:
    expected: list[tuple[str, Any, type | tuple[type, ...], str]] = [
        ("custom.databricksConf.new_cluster", body.get("new_cluster"), dict, "an object"),
        ("custom.databricksConf.environments", body.get("environments"), list, "a list"),
        ("custom.databricksConf.environment_key", body.get("environment_key"), str, "a string"),
        ("custom.databricksConf.git_source", body.get("git_source"), dict, "an object"),
        ("custom.databricksConf.python_file", body.get("python_file"), str, "a string"),
        ("custom.sparkConf", custom.get("sparkConf"), dict, "an object"),
        ("custom.notebookPath", custom.get("notebookPath"), str, "a string"),
        ("custom.notebookBaseParameters", custom.get("notebookBaseParameters"), dict, "an object"),
    ]
    for field, value, kind, description in expected:
        if value is not None and not isinstance(value, kind):
            raise InvalidRequestError(f"{field} must be {description}")
    for index, environment in enumerate(body.get("environments") or []):
        if not isinstance(environment, dict) or not isinstance(environment.get("spec", {}), dict):
            raise InvalidRequestError(
                f"custom.databricksConf.environments[{index}] must be an object with an "
                "object 'spec'"
            )
        if not isinstance((environment.get("spec") or {}).get("environment_vars") or {}, dict):
            raise InvalidRequestError(
                f"custom.databricksConf.environments[{index}].spec.environment_vars must be an "
                "object"
            )
    cluster = body.get("new_cluster") or {}
    if not isinstance(cluster.get("spark_env_vars") or {}, dict):
        raise InvalidRequestError(
            "custom.databricksConf.new_cluster.spark_env_vars must be an object"
        )


def integral_numbers(value: Any) -> Any:
    """Whole-number floats back to ints (``custom`` is a protobuf Struct, which has no ints;
    the Jobs API declares ``num_workers``, ``timeout_seconds``... as integers)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: integral_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [integral_numbers(v) for v in value]
    return value


def _serverless_environment(body: dict[str, Any], envs: dict[str, str]) -> str:
    """Ensure the run's serverless environment exists, inject ``envs`` into it and return its
    key (flytekit's ``_configure_serverless``)."""
    key = body.pop("environment_key", None) or "default"
    environments: list[dict[str, Any]] = body.setdefault("environments", [])
    match = next((e for e in environments if e.get("environment_key") == key), None)
    if match is None:
        match = {"environment_key": key, "spec": {"client": "1"}}
        environments.append(match)
    spec = match.setdefault("spec", {})
    spec["environment_vars"] = {**(spec.get("environment_vars") or {}), **envs}
    return str(key)


def _classic_cluster(
    body: dict[str, Any], custom: dict[str, Any], image: str, envs: dict[str, str]
) -> None:
    """Give a new cluster the task's image, Spark configuration and environment variables
    (flytekit's ``_configure_classic_cluster``); an existing cluster is used as it is."""
    if body.get("existing_cluster_id") is not None:
        return
    cluster = body.get("new_cluster")
    if cluster is None:
        return
    if not cluster.get("docker_image"):
        if not image:
            raise InvalidRequestError(
                "the template has no container image for custom.databricksConf.new_cluster "
                "(set new_cluster.docker_image or the task's container image)"
            )
        cluster["docker_image"] = {"url": image}
    if not cluster.get("spark_conf"):
        cluster["spark_conf"] = custom.get("sparkConf") or {}
    cluster["spark_env_vars"] = {**(cluster.get("spark_env_vars") or {}), **envs}


def _notebook_body(
    body: dict[str, Any], custom: dict[str, Any], image: str, envs: dict[str, str], serverless: bool
) -> None:
    notebook_task: dict[str, Any] = {"notebook_path": custom["notebookPath"]}
    if custom.get("notebookBaseParameters"):
        notebook_task["base_parameters"] = custom["notebookBaseParameters"]
    if body.get("git_source"):
        notebook_task["source"] = "GIT"
    if serverless:
        key = _serverless_environment(body, envs)
        body["tasks"] = [
            {
                "task_key": "flyte_notebook_task",
                "notebook_task": notebook_task,
                "environment_key": key,
            }
        ]
    else:
        _classic_cluster(body, custom, image, envs)
        body["notebook_task"] = notebook_task


def _python_file_body(
    body: dict[str, Any],
    custom: dict[str, Any],
    image: str,
    envs: dict[str, str],
    args: list[str],
    serverless: bool,
    entrypoint: Entrypoint,
) -> None:
    git_source = body.pop("git_source", None) or entrypoint.git_source()
    user_file = body.pop("python_file", None)
    if serverless:
        parameters = list(args)
        provider = custom.get("databricksServiceCredentialProvider") or _default_provider()
        if provider:
            parameters.append(f"--flyte-credential-provider={provider}")
        key = _serverless_environment(body, envs)
        body["tasks"] = [
            {
                "task_key": "flyte_task",
                "spark_python_task": {
                    "python_file": user_file or entrypoint.serverless_file,
                    "source": "GIT",
                    "parameters": parameters,
                },
                "environment_key": key,
            }
        ]
    else:
        _classic_cluster(body, custom, image, envs)
        body["spark_python_task"] = {
            "python_file": user_file or entrypoint.classic_file,
            "source": "GIT",
            "parameters": list(args),
        }
    body["git_source"] = git_source


def _default_provider() -> str | None:
    from agent_databricks.settings import service_credential_provider

    return service_credential_provider()
