"""A small kit for testing agents and the host, in modules with one job each behind this front:

- ``server``: a real ``agenthost serve`` subprocess on a free loopback port (``running_server``,
  ``start_server``, ``ServerProcess``, ``server_fixture``...), talked to with flyteidl's stubs;
- ``lifecycle``: a task's whole lifecycle, in process (``run_lifecycle``) or over gRPC
  (``run_on_server``);
- ``templates``: task templates and inputs from Python values (``make_template``,
  ``make_inputs``);
- ``tls``: throwaway certificates (``make_certificates``);
- ``net``: network stand-ins (``tripwire``, ``unreachable_endpoint``);
- ``support``: ``free_port``, ``wait_for``, ``pythonpath_env``, ``run_cli``;
- ``pytest_plugin``: the same as pytest fixtures, registered through the ``pytest11`` entry
  point when agenthost is installed.

Names are imported from their module on first use, so importing this package (as pytest does
for the plugin) does not import grpc or the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agenthost.lazy import lazy_front

if TYPE_CHECKING:
    from agenthost.run.lifecycle import Backoff as Backoff
    from agenthost.run.lifecycle import RunResult as RunResult
    from agenthost.run.lifecycle import Status as Status
    from agenthost.testing.lifecycle import TEST_BACKOFF as TEST_BACKOFF
    from agenthost.testing.lifecycle import run_lifecycle as run_lifecycle
    from agenthost.testing.lifecycle import run_on_server as run_on_server
    from agenthost.testing.net import Tripwire as Tripwire
    from agenthost.testing.net import forbidden_requests as forbidden_requests
    from agenthost.testing.net import tripwire as tripwire
    from agenthost.testing.net import tripwire_fixture as tripwire_fixture
    from agenthost.testing.net import unreachable_endpoint as unreachable_endpoint
    from agenthost.testing.server import SERVING_LINE_PREFIX as SERVING_LINE_PREFIX
    from agenthost.testing.server import RunningServer as RunningServer
    from agenthost.testing.server import ServerProcess as ServerProcess
    from agenthost.testing.server import running_server as running_server
    from agenthost.testing.server import serve_command as serve_command
    from agenthost.testing.server import server_fixture as server_fixture
    from agenthost.testing.server import serving as serving
    from agenthost.testing.server import start_server as start_server
    from agenthost.testing.server import stop_process as stop_process
    from agenthost.testing.support import free_port as free_port
    from agenthost.testing.support import pythonpath_env as pythonpath_env
    from agenthost.testing.support import run_cli as run_cli
    from agenthost.testing.support import wait_for as wait_for
    from agenthost.testing.templates import make_inputs as make_inputs
    from agenthost.testing.templates import make_template as make_template
    from agenthost.testing.tls import CertificateFiles as CertificateFiles
    from agenthost.testing.tls import make_certificates as make_certificates

_HOMES = {
    "agenthost.run.lifecycle": ("Backoff", "RunResult", "Status"),
    "agenthost.testing.lifecycle": ("TEST_BACKOFF", "run_lifecycle", "run_on_server"),
    "agenthost.testing.net": (
        "Tripwire", "forbidden_requests", "tripwire", "tripwire_fixture", "unreachable_endpoint",
    ),
    "agenthost.testing.server": (
        "SERVING_LINE_PREFIX", "RunningServer", "ServerProcess", "running_server",
        "serve_command", "server_fixture", "serving", "start_server", "stop_process",
    ),
    "agenthost.testing.support": ("free_port", "pythonpath_env", "run_cli", "wait_for"),
    "agenthost.testing.templates": ("make_inputs", "make_template"),
    "agenthost.testing.tls": ("CertificateFiles", "make_certificates"),
}  # fmt: skip

__all__, __getattr__, __dir__ = lazy_front(__name__, globals(), _HOMES)
