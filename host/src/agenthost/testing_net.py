"""The old import path of :mod:`agenthost.testing.net`, re-exported."""

from agenthost.testing.net import Tripwire as Tripwire
from agenthost.testing.net import forbidden_requests as forbidden_requests
from agenthost.testing.net import tripwire as tripwire
from agenthost.testing.net import tripwire_fixture as tripwire_fixture
from agenthost.testing.net import unreachable_endpoint as unreachable_endpoint
