"""The OpenAI tests' fixtures, defined in ``openai_support`` (test modules import its helpers
from there)."""

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
