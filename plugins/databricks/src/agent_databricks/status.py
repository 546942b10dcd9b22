"""A ``runs/get`` answer -> the ``Resource`` propeller sees.

================================================  ==================  ======================
Databricks run (``state``)                        Flyte phase         message
================================================  ==================  ======================
``PENDING``, ``QUEUED``, ``BLOCKED``,             RUNNING             life-cycle state and
``WAITING_FOR_RETRY``, ``RUNNING``,                                   ``state_message``
``TERMINATING``
``TERMINATED`` with ``SUCCESS``                   SUCCEEDED           ``state_message``
``TERMINATED`` with ``FAILED``, ``TIMEDOUT``,     FAILED              result and
``CANCELED`` or another result                                        ``state_message``
``TERMINATED`` with                               RETRYABLE_FAILED    result and message
``MAXIMUM_CONCURRENT_RUNS_REACHED`` (``status``:
``MAX_CONCURRENT_RUNS_EXCEEDED``)
``SKIPPED``                                       FAILED              ``state_message``
``INTERNAL_ERROR``                                RETRYABLE_FAILED    ``state_message``
================================================  ==================  ======================

Runs without the ``state`` object are read from ``status`` (``state`` and
``termination_details``), the form newer API versions prefer. The log link is the run's page.
"""

from __future__ import annotations

from typing import Any

from flyteidl.core.execution_pb2 import TaskLog

from agent_databricks.failures import clean_message
from agent_databricks.settings import Instance
from agenthost import Resource

RUNNING_STATES = frozenset(
    {"PENDING", "QUEUED", "BLOCKED", "WAITING_FOR_RETRY", "RUNNING", "TERMINATING", "WAITING"}
)
RETRYABLE_RESULTS = frozenset({"MAXIMUM_CONCURRENT_RUNS_REACHED", "MAX_CONCURRENT_RUNS_EXCEEDED"})
"""``state.result_state`` and its ``status.termination_details.code`` counterpart: the run was
not started because too many runs were active; the same run may start later."""
RETRYABLE_TERMINATION_TYPES = frozenset({"INTERNAL_ERROR", "CLOUD_FAILURE"})


def run_link(instance: Instance, run: dict[str, Any], run_id: str) -> TaskLog:
    """The run's page: Databricks' ``run_page_url`` when it is on the run's instance, else
    ``<instance>/#job/<job_id>/run/<run_id>`` as flytekit builds it."""
    page = run.get("run_page_url")
    if not (isinstance(page, str) and page.startswith(instance.base_url + "/")):
        page = f"{instance.base_url}/#job/{run.get('job_id')}/run/{run_id}"
    return TaskLog(uri=page, name="Databricks Console", message_format=TaskLog.UNKNOWN)


def _text(value: Any) -> str:
    return clean_message(value) if isinstance(value, str) else ""


def resource_from_run(instance: Instance, run: dict[str, Any], run_id: str) -> Resource:
    """Map a ``runs/get`` answer to a ``Resource`` with the run page as log link."""
    links = [run_link(instance, run, run_id)]
    state = run.get("state")
    if isinstance(state, dict) and state.get("life_cycle_state"):
        life_cycle = str(state["life_cycle_state"])
        result = str(state.get("result_state") or "")
        message = _text(state.get("state_message"))
    else:
        status = run.get("status")
        status = status if isinstance(status, dict) else {}
        life_cycle = str(status.get("state") or "")
        details = status.get("termination_details")
        details = details if isinstance(details, dict) else {}
        result = str(details.get("code") or "")
        message = _text(details.get("message"))
        if life_cycle == "TERMINATED" and details.get("type") in RETRYABLE_TERMINATION_TYPES:
            life_cycle = "INTERNAL_ERROR"
    if not life_cycle:
        return Resource.running("Databricks has not reported the run's state yet", log_links=links)
    if life_cycle in RUNNING_STATES:
        return Resource.running(_join(life_cycle, message), log_links=links)
    if life_cycle == "INTERNAL_ERROR":
        return Resource.failure(
            _join("Databricks run failed with an internal error", message),
            retryable=True,
            code="INTERNAL_ERROR",
            log_links=links,
        )
    if life_cycle == "TERMINATED" and result == "SUCCESS":
        return Resource.succeeded(None, message=message or "SUCCESS", log_links=links)
    if life_cycle == "TERMINATED":
        outcome = result or "no result"
        return Resource.failure(
            _join(f"Databricks run {outcome}", message),
            retryable=result in RETRYABLE_RESULTS,
            code=result or "TERMINATED",
            log_links=links,
        )
    return Resource.failure(
        _join(f"Databricks run {life_cycle}", message), code=life_cycle, log_links=links
    )


def _join(head: str, message: str) -> str:
    return f"{head}: {message}" if message else head
