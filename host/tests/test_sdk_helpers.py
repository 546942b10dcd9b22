"""Phases, secrets and signature helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from agenthost import (
    Phase,
    Resource,
    SecretNotFoundError,
    get_secret,
    is_terminal_phase,
    phase_from_state,
)
from agenthost.secrets import known_secret_values
from agenthost.signatures import accepted_keywords, signature_problems


@pytest.mark.parametrize(
    ("state", "phase"),
    [
        ("DONE", Phase.SUCCEEDED),
        ("running", Phase.RUNNING),
        ("in_progress", Phase.RUNNING),
        ("Cancelled", Phase.ABORTED),
        ("FAILED", Phase.FAILED),
        ("PENDING", Phase.INITIALIZING),
    ],
)
def test_phase_from_state(state: str, phase: int) -> None:
    assert phase_from_state(state) == phase


def test_unknown_state_is_named() -> None:
    with pytest.raises(ValueError, match="unknown job state 'WEIRD'"):
        phase_from_state("WEIRD")


def test_terminal_phases() -> None:
    assert [p for p in Phase.values() if is_terminal_phase(p)] == [
        Phase.SUCCEEDED,
        Phase.ABORTED,
        Phase.FAILED,
        Phase.RETRYABLE_FAILED,
    ]


def test_failure_helper_sets_phase_and_agent_error() -> None:
    retry = Resource.failure("throttled", retryable=True)
    assert retry.phase == Phase.RETRYABLE_FAILED and retry.agent_error is not None
    assert retry.agent_error.kind == retry.agent_error.RECOVERABLE
    final = Resource.failure("bad sql", code="InvalidQuery")
    assert final.phase == Phase.FAILED and final.agent_error is not None
    assert final.agent_error.code == "InvalidQuery"


def test_secrets_from_env_and_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_FSEC_FLYTE_OPENAI_API_KEY", "sk-env-value")
    assert get_secret("FLYTE_OPENAI_API_KEY") == "sk-env-value"
    assert "sk-env-value" in known_secret_values()
    monkeypatch.setenv("FLYTE_SECRETS_DEFAULT_DIR", str(tmp_path))
    (tmp_path / "bq").mkdir()
    (tmp_path / "bq" / "service_account").write_text('{"key": 1}\n')
    assert get_secret("SERVICE_ACCOUNT", group="bq") == '{"key": 1}'
    assert get_secret("absent", default="fallback") == "fallback"
    with pytest.raises(SecretNotFoundError) as info:
        get_secret("absent_key")
    assert "$_FSEC_ABSENT_KEY" in str(info.value)


def test_signature_helpers() -> None:
    def named(task_template, inputs=None, output_prefix=""):  # type: ignore[no-untyped-def]
        ...

    def flexible(task_template, **kwargs):  # type: ignore[no-untyped-def]
        ...

    def needs_more(task_template, credentials):  # type: ignore[no-untyped-def]
        ...

    assert accepted_keywords(named) == frozenset({"task_template", "inputs", "output_prefix"})
    assert accepted_keywords(flexible) is None
    assert signature_problems(named, "create", ("task_template",), ("inputs",)) == []
    assert signature_problems(needs_more, "create", ("task_template",), ("inputs",)) == [
        "create() requires argument 'credentials', which the host never passes"
    ]
