"""Fixtures of the OpenAI tests (from ``openai_support``, where test modules import its helpers
from)."""

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
