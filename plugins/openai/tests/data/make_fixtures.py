"""Regenerate the flytekit-serialized fixtures in this directory.

Run it with a throwaway venv that has flytekit (never a dependency of this plugin):

    python3 -m venv /tmp/venv-fk-openai
    /tmp/venv-fk-openai/bin/pip install "flytekit==1.16.31" "flytekitplugins-openai==1.16.31"
    /tmp/venv-fk-openai/bin/python plugins/openai/tests/data/make_fixtures.py

It writes, next to itself:

* ``chatgpt_template.json`` / ``batch_template.json``: ``TaskTemplate`` protos (JSON form) of a
  ``ChatGPTTask`` and a ``BatchEndpointTask`` as ``pyflyte register`` would send them;
* ``chatgpt_inputs.json`` / ``batch_inputs.json``: their input ``LiteralMap`` protos;
* ``batch_result_literal.json``: the ``result`` literal flytekit builds for a batch dict;
* ``batch_resource_meta.pickle.b64``: the ``resource_meta`` bytes flytekit's connector writes
  (cloudpickle; the plugin reads its fields without unpickling).
"""

from __future__ import annotations

import base64
import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

from flytekit import FlyteContextManager
from flytekit.configuration import Image, ImageConfig, SerializationSettings
from flytekit.core.type_engine import TypeEngine
from flytekit.models.literals import LiteralMap
from flytekit.tools.translator import get_serializable
from flytekitplugins.openai import BatchEndpointTask, ChatGPTTask
from flytekitplugins.openai.batch.connector import BatchEndpointMetadata
from google.protobuf import json_format

HERE = Path(__file__).parent

CHATGPT_TASK = ChatGPTTask(
    name="fixtures.chatgpt",
    openai_organization="org-fixture",
    chatgpt_config={"model": "gpt-4o-mini", "temperature": 0.7, "max_tokens": 64},
)

BATCH_TASK = BatchEndpointTask(
    name="fixtures.openai_batch",
    openai_organization="org-fixture",
    config={"metadata": {"purpose": "fixture"}},
)

BATCH_RESULT: dict[str, Any] = {
    "id": "batch_fixture",
    "object": "batch",
    "status": "completed",
    "endpoint": "/v1/chat/completions",
    "input_file_id": "file-in",
    "output_file_id": "file-out",
    "error_file_id": None,
    "request_counts": {"total": 2, "completed": 2, "failed": 0},
    "metadata": {"purpose": "fixture"},
}


def _settings() -> SerializationSettings:
    image = Image(name="default", fqn="cr.flyte.org/flyteorg/flytekit", tag="py3.11-1.16.31")
    return SerializationSettings(
        project="fixtures",
        domain="development",
        version="v1",
        image_config=ImageConfig(default_image=image, images=[image]),
    )


def _write_proto(name: str, message: Any) -> None:
    text = json_format.MessageToJson(message, indent=2, sort_keys=True)
    (HERE / name).write_text(text + "\n", encoding="utf-8")


def _inputs(task: Any, values: dict[str, Any]) -> LiteralMap:
    ctx = FlyteContextManager.current_context()
    types = {name: task.python_interface.inputs[name] for name in values}
    return TypeEngine.dict_to_literal_map(ctx, values, types)


def main() -> None:
    settings = _settings()
    for name, task in (("chatgpt", CHATGPT_TASK), ("batch", BATCH_TASK)):
        spec = get_serializable(OrderedDict(), settings, task)
        _write_proto(f"{name}_template.json", spec.template.to_flyte_idl())
    _write_proto("chatgpt_inputs.json", _inputs(CHATGPT_TASK, {"message": "Say hi"}).to_flyte_idl())
    _write_proto(
        "batch_inputs.json", _inputs(BATCH_TASK, {"input_file_id": "file-in"}).to_flyte_idl()
    )

    ctx = FlyteContextManager.current_context()
    literal = TypeEngine.to_literal(ctx, BATCH_RESULT, dict, TypeEngine.to_literal_type(dict))
    _write_proto("batch_result_literal.json", literal.to_flyte_idl())
    (HERE / "batch_result_value.json").write_text(
        json.dumps(BATCH_RESULT, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )

    meta = BatchEndpointMetadata(openai_org="org-fixture", batch_id="batch_fixture")
    (HERE / "batch_resource_meta.pickle.b64").write_text(
        base64.b64encode(meta.encode()).decode("ascii") + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
