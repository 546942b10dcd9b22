"""The old import path of ``agenthost.cli.propeller`` (the ``propeller-config`` command and
its configuration builders), re-exported."""

from agenthost.cli.propeller import AGENT_SERVICES as AGENT_SERVICES
from agenthost.cli.propeller import DEFAULT_ENDPOINT as DEFAULT_ENDPOINT
from agenthost.cli.propeller import DEFAULT_SERVICE_CONFIG as DEFAULT_SERVICE_CONFIG
from agenthost.cli.propeller import DEFAULT_TIMEOUTS as DEFAULT_TIMEOUTS
from agenthost.cli.propeller import SERVICE_CONFIG as SERVICE_CONFIG
from agenthost.cli.propeller import Polling as Polling
from agenthost.cli.propeller import build_config as build_config
from agenthost.cli.propeller import deployment as deployment
from agenthost.cli.propeller import service_config as service_config
from agenthost.cli.propeller import to_yaml as to_yaml
