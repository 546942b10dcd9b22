"""Fixtures and helpers of the OpenAI tests (``openai_support``; test modules import the helpers
from here)."""

from openai_support import (  # noqa: F401
    API_KEY,
    DATA,
    fake_openai,
    load_inputs,
    load_template,
    openai_env,
    run,
    server_env,
)
