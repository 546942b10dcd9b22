"""Fixtures: a real ``agenthost serve`` with only this distribution's plugin loaded.

The server test needs the project installed (``pip install -e .[test]``): the host finds the
agent through the ``flyte.agents`` entry point, exactly as in production.
"""

from agenthost.testing import server_fixture

agent_server = server_fixture("--allow", "agent-example")
