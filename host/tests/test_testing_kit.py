"""``agenthost.testing.start_server``: a real ``agenthost serve`` subprocess, started from a
command line and stopped again."""

from __future__ import annotations

import pytest

from agenthost.testing import serve_command, start_server


def test_start_server_waits_for_the_serving_line_and_stops_the_server() -> None:
    server = start_server(serve_command())
    try:
        assert server.address.startswith("127.0.0.1:")
        assert server.port > 0
        assert server.process.poll() is None
        assert "agenthost serving on" in server.logs()
    finally:
        code = server.stop()
    assert code == 0
    assert server.process.poll() == 0


def test_start_server_reports_a_server_that_does_not_start() -> None:
    with pytest.raises(RuntimeError, match="did not start") as info:
        start_server(serve_command("--modules", "no_such_module_for_agenthost", "--strict"))
    assert "no_such_module_for_agenthost" in str(info.value)
