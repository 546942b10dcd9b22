"""The ``chatgpt`` sync agent: one chat completion per task, flytekit ``ChatGPTTask`` compatible.

Template ``custom``: ``{"openai_organization": str | null, "chatgpt_config": {"model": ...,
other chat-completion parameters}, "base_url": optional}``; input ``message`` (str); output
``o0`` (str), the first choice's text. ``chatgpt_config["messages"]``, if present, is sent before
the user's ``message`` (e.g. a system prompt).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_openai.clients import client_for
from agent_openai.errors import ConfigurationError
from agent_openai.failures import describe
from agent_openai.settings import client_settings
from agent_openai.template import organization, parameters, split_parameters
from agenthost import InvalidRequestError, Resource, SyncAgentBase, custom_of, input_values

if TYPE_CHECKING:
    from flyteidl.core.literals_pb2 import LiteralMap
    from flyteidl.core.tasks_pb2 import TaskTemplate

TASK_TYPE = "chatgpt"
INPUT_NAME = "message"
OUTPUT_NAME = "o0"


def chat_request(custom: dict[str, Any], message: str) -> dict[str, Any]:
    """The ``chat.completions.create`` parameters for a template's ``custom`` and the user's
    ``message``. Raises ``ConfigurationError`` naming what is wrong with ``chatgpt_config``."""
    config = parameters(custom.get("chatgpt_config"), where="chatgpt_config")
    if not isinstance(config.get("model"), str) or not config["model"]:
        raise ConfigurationError("chatgpt_config needs a 'model' (string)")
    if config.pop("stream", False):
        raise ConfigurationError(
            "chatgpt_config 'stream' is not supported: the task needs the whole completion"
        )
    config.pop("stream_options", None)
    preset = config.pop("messages", None) or []
    if not isinstance(preset, list):
        raise ConfigurationError("chatgpt_config 'messages' must be a list of messages")
    config["messages"] = [*preset, {"role": "user", "content": message}]
    return config


class ChatGPTAgent(SyncAgentBase):
    """Runs one chat completion (``POST /chat/completions``) and returns the first choice's text
    as output ``o0``. Rate limits and server errors give ``RETRYABLE_FAILED``; other API errors
    ``FAILED``, with the API's message; an API that cannot be reached or does not answer in time
    is ``BackendUnavailableError`` (gRPC UNAVAILABLE)."""

    def __init__(self) -> None:
        super().__init__(TASK_TYPE, name="ChatGPT Agent")

    async def do(  # type: ignore[override]  # the host awaits async methods
        self, task_template: TaskTemplate, inputs: LiteralMap | None = None, **kwargs: Any
    ) -> Resource:
        """Send the task's ``message`` to the chat-completions API and return the reply."""
        message = input_values(task_template, inputs).get(INPUT_NAME)
        if not isinstance(message, str):
            raise InvalidRequestError(f"input {INPUT_NAME!r} (a string) is required")
        custom = custom_of(task_template)
        key = ""
        try:
            request = chat_request(custom, message)
            org = organization(custom.get("openai_organization"), where="openai_organization")
            settings = client_settings(org, custom)
            key = settings.api_key
            client = await client_for(settings)
            create = client.chat.completions.create
            known, extra = split_parameters(create, request, where="chatgpt_config")
            completion = await create(**known, extra_body=extra or None)
        except Exception as exc:
            failure = describe(exc, action="chat completion", api_key=key)
            if failure is None:
                raise
            if failure.unreachable:
                raise failure.unavailable() from None
            return failure.resource()
        return _result(completion)


def _result(completion: Any) -> Resource:
    info: dict[str, Any] = {"id": completion.id, "model": completion.model}
    if completion.usage is not None:
        info["usage"] = completion.usage.model_dump(exclude_none=True)
    if not completion.choices:
        return Resource.failure("the chat completion returned no choices", custom_info=info)
    choice = completion.choices[0]
    content = choice.message.content
    if content is None:
        reason = choice.message.refusal or f"finish_reason={choice.finish_reason}"
        return Resource.failure(f"the chat completion has no text: {reason}", custom_info=info)
    return Resource.succeeded({OUTPUT_NAME: content}, custom_info=info)
