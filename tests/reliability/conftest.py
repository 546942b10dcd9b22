"""The long ``reliability`` session: this folder's tests plus the quick ones in
``host/tests/reliability`` run at volume. Durations and volumes come from the environment
(defaults here are the session's): ``AGENTHOST_SOAK_SECONDS`` (600), ``AGENTHOST_FUZZ_EXAMPLES``
(2000 per strategy), ``AGENTHOST_FUZZ_RAW`` (1500 per method), ``AGENTHOST_FUZZ_RANDOM`` (1:
new examples every run). The fixtures and the summary table of every figure come from
``host/tests/reliability/reliability_fixtures.py`` (on the root ``pyproject.toml``'s pytest
``pythonpath``, with the host's test support)."""

from __future__ import annotations

import os

for name, value in {
    "AGENTHOST_SOAK_SECONDS": "600",
    "AGENTHOST_FUZZ_EXAMPLES": "2000",
    "AGENTHOST_FUZZ_RAW": "1500",
    "AGENTHOST_FUZZ_RANDOM": "1",
}.items():
    os.environ.setdefault(name, value)

pytest_plugins = ["reliability_fixtures"]
