"""``agenthost.server.memory``: the malloc arena limit the server applies at start."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from agenthost.server import memory


def test_environment_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert memory.limit_malloc_arenas() is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_glibc_accepts_the_limit() -> None:
    code = (
        "import sys; from agenthost.server.memory import limit_malloc_arenas;"
        "sys.exit(0 if limit_malloc_arenas() else 3)"
    )
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run([sys.executable, "-c", code], env=env, timeout=60)
    assert done.returncode == 0
