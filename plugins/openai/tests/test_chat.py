"""The ``chatgpt`` sync agent against the fake OpenAI server, in process, with the real client."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from fake_openai import FakeOpenAI
from openai_support import API_KEY, load_inputs, load_template, run

from agent_openai.chat import ChatGPTAgent
from agenthost import BackendUnavailableError, MisconfiguredError, Phase
from agenthost.literals import to_literal_map
from agenthost.secrets import known_secret_values
from agenthost.testing import make_template


def chat_template(model: str, **custom: Any) -> Any:
    return make_template(
        "chatgpt",
        inputs={"message": str},
        outputs={"o0": str},
        custom={"openai_organization": "org-test", "chatgpt_config": {"model": model}, **custom},
    )


def message_inputs(template: Any, text: str = "hello") -> Any:
    return to_literal_map({"message": text}, template.interface.inputs)


def do(template: Any, inputs: Any = None) -> Any:
    return run(
        ChatGPTAgent().do(template, inputs if inputs is not None else message_inputs(template))
    )


def chat_requests(server: FakeOpenAI) -> list[dict[str, Any]]:
    return server.received("/v1/chat/completions")


def test_flytekit_template_gets_the_first_choice_as_o0(openai_env: FakeOpenAI) -> None:
    template = load_template("chatgpt")
    before = template.SerializeToString(deterministic=True)
    seen = len(chat_requests(openai_env))

    resource = run(ChatGPTAgent().do(template, load_inputs("chatgpt")))

    assert resource.phase == Phase.SUCCEEDED
    assert resource.outputs == {"o0": "echo: Say hi"}
    assert resource.custom_info is not None
    assert resource.custom_info["model"] == "gpt-4o-mini"
    assert resource.custom_info["usage"]["total_tokens"] == 5
    [request] = chat_requests(openai_env)[seen:]
    assert request["headers"]["authorization"] == f"Bearer {API_KEY}"
    assert request["headers"]["openai-organization"] == "org-fixture"
    body = request["body"]
    assert body["messages"] == [{"role": "user", "content": "Say hi"}]
    assert body["max_tokens"] == 64
    assert isinstance(body["max_tokens"], int)
    assert body["temperature"] == 0.7
    assert template.SerializeToString(deterministic=True) == before


def test_preset_messages_come_first_and_unknown_parameters_pass_through(
    openai_env: FakeOpenAI,
) -> None:
    system = {"role": "system", "content": "Be brief."}
    template = chat_template("gpt-test")
    template.custom["chatgpt_config"].update({"messages": [system], "top_k": 5})
    seen = len(chat_requests(openai_env))

    resource = do(template, message_inputs(template, "question"))

    assert resource.phase == Phase.SUCCEEDED
    body = chat_requests(openai_env)[seen]["body"]
    assert body["messages"] == [system, {"role": "user", "content": "question"}]
    assert body["top_k"] == 5


def test_rate_limit_is_retried_then_retryable_failed(openai_env: FakeOpenAI) -> None:
    seen = len(chat_requests(openai_env))
    resource = do(chat_template("error-429"))
    assert resource.phase == Phase.RETRYABLE_FAILED
    assert "HTTP 429" in resource.message
    assert "Rate limit reached" in resource.message
    assert len(chat_requests(openai_env)) - seen == 2  # one try plus AGENT_OPENAI_MAX_RETRIES=1


def test_server_error_is_retryable_failed(openai_env: FakeOpenAI) -> None:
    resource = do(chat_template("error-500"))
    assert resource.phase == Phase.RETRYABLE_FAILED
    assert "The server had an error" in resource.message


def test_bad_key_is_failed_without_the_key(openai_env: FakeOpenAI) -> None:
    resource = do(chat_template("error-401"))
    assert resource.phase == Phase.FAILED
    assert "Incorrect API key provided" in resource.message
    assert API_KEY not in resource.message
    assert resource.agent_error.code == "HTTP401"


@pytest.mark.parametrize("model", ["error-400", "error-404"])
def test_client_errors_are_failed(openai_env: FakeOpenAI, model: str) -> None:
    seen = len(chat_requests(openai_env))
    resource = do(chat_template(model))
    assert resource.phase == Phase.FAILED
    assert len(chat_requests(openai_env)) - seen == 1  # not retried


def test_missing_key_is_a_misconfiguration_naming_where_to_put_it(
    openai_env: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("_FSEC_FLYTE_OPENAI_API_KEY")
    with pytest.raises(MisconfiguredError) as raised:
        do(chat_template("gpt-test"))
    assert "FLYTE_OPENAI_API_KEY" in str(raised.value)
    assert "OPENAI_API_KEY" in str(raised.value)


def test_openai_api_key_env_is_the_fallback_and_is_remembered_as_secret(
    openai_env: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    fallback = "sk-env-fallback-key-42"
    monkeypatch.delenv("_FSEC_FLYTE_OPENAI_API_KEY")
    monkeypatch.setenv("OPENAI_API_KEY", fallback)
    seen = len(chat_requests(openai_env))
    resource = do(chat_template("gpt-test"))
    assert resource.phase == Phase.SUCCEEDED
    assert chat_requests(openai_env)[seen]["headers"]["authorization"] == f"Bearer {fallback}"
    assert fallback in known_secret_values()


def test_template_base_url_must_be_allowed(
    openai_env: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # the deployment's default
    template = chat_template("gpt-test", base_url=openai_env.base_url)

    refused = do(template)
    assert refused.phase == Phase.FAILED
    assert "AGENT_OPENAI_ALLOWED_BASE_URLS" in refused.message

    monkeypatch.setenv(
        "AGENT_OPENAI_ALLOWED_BASE_URLS", f"http://x.invalid, {openai_env.base_url}/"
    )
    assert do(template).phase == Phase.SUCCEEDED


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, "needs a 'model'"),
        ({"model": "gpt-test", "stream": True}, "'stream' is not supported"),
        ({"model": "gpt-test", "timeout": 1}, "may not set 'timeout'"),
    ],
)
def test_bad_chatgpt_config_fails(
    openai_env: FakeOpenAI, config: dict[str, Any], expected: str
) -> None:
    template = make_template(
        "chatgpt",
        inputs={"message": str},
        outputs={"o0": str},
        custom={"openai_organization": None, "chatgpt_config": config},
    )
    resource = do(template)
    assert resource.phase == Phase.FAILED
    assert expected in resource.message


def test_unreachable_endpoint_is_backend_unavailable(
    openai_env: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("AGENT_OPENAI_MAX_RETRIES", "0")
    with pytest.raises(BackendUnavailableError, match="could not connect"):
        do(chat_template("gpt-test"))


def test_timeout_is_configurable_and_backend_unavailable(
    openai_env: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_OPENAI_TIMEOUT_SECONDS", "0.3")
    monkeypatch.setenv("AGENT_OPENAI_MAX_RETRIES", "0")
    with pytest.raises(BackendUnavailableError, match="timed out"):
        do(chat_template("slow"))


def test_missing_message_input_is_an_invalid_request(openai_env: FakeOpenAI) -> None:
    from agenthost import InvalidRequestError

    with pytest.raises(InvalidRequestError, match="message"):
        run(ChatGPTAgent().do(chat_template("gpt-test"), None))


def test_connection_key_wins_over_the_deployment_key(openai_env: FakeOpenAI) -> None:
    from agenthost import Connection
    from agenthost.connection import using_connection

    per_task = "sk-conn-in-process-777"
    seen = len(chat_requests(openai_env))
    with using_connection(Connection(secrets={"openai_api_key": per_task})):
        resource = do(chat_template("gpt-test"))
    again = do(chat_template("gpt-test"))  # no connection: the deployment's key
    assert (resource.phase, again.phase) == (Phase.SUCCEEDED, Phase.SUCCEEDED)
    sent = [r["headers"]["authorization"] for r in chat_requests(openai_env)[seen:]]
    assert sent == [f"Bearer {per_task}", f"Bearer {API_KEY}"]
