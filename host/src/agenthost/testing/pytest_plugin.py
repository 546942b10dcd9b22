"""agenthost's pytest plugin: the testing kit as fixtures, registered through the ``pytest11``
entry point, so any project that installs agenthost (a plugin's tests, the host's own) can ask
for them without a ``conftest.py``:

- ``agenthost_server``: start ``agenthost serve`` (``agenthost_server("--allow", "agent-x",
  env={...})``), stopped and reaped at the end of the test;
- ``agenthost_port``: a free loopback TCP port;
- ``agenthost_certificates``: a throwaway CA, server and client certificate (PEM files);
- ``agenthost_template`` and ``agenthost_inputs``: ``make_template`` and ``make_inputs``;
- ``agenthost_tripwire``: an HTTP listener that counts every request it gets.

Fixtures only, no hooks: the plugin changes nothing about a run that does not use them, and
imports the kit's modules (grpc, the server) only when a fixture is set up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from agenthost.testing.net import Tripwire
    from agenthost.testing.server import ServerProcess
    from agenthost.testing.tls import CertificateFiles


@pytest.fixture
def agenthost_server() -> Iterator[Callable[..., ServerProcess]]:
    """A factory of running servers: ``agenthost_server(*serve_args, env=None,
    startup_timeout=60.0, credentials=None)`` starts ``python -m agenthost serve`` on a free
    loopback port and returns its ``ServerProcess`` once its channel is ready. Every server it
    started is stopped at the end of the test."""
    import contextlib

    from agenthost.testing.server import running_server

    with contextlib.ExitStack() as stack:

        def start(*args: str, **kwargs: Any) -> ServerProcess:
            return stack.enter_context(running_server(*args, **kwargs))

        yield start


@pytest.fixture
def agenthost_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    from agenthost.testing.support import free_port

    return free_port()


@pytest.fixture(scope="session")
def agenthost_certificates(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    """A throwaway CA, a server certificate for ``localhost``/``127.0.0.1`` and a client
    certificate, as PEM files (``make_certificates``); shared by the session. Needs
    ``cryptography`` (in ``agenthost[test]``)."""
    from agenthost.testing.tls import make_certificates

    return make_certificates(Path(tmp_path_factory.mktemp("agenthost-tls")))


@pytest.fixture
def agenthost_template() -> Callable[..., Any]:
    """``agenthost.testing.make_template``: a ``TaskTemplate`` from Python types."""
    from agenthost.testing.templates import make_template

    return make_template


@pytest.fixture
def agenthost_inputs() -> Callable[..., Any]:
    """``agenthost.testing.make_inputs``: a template's inputs from Python values."""
    from agenthost.testing.templates import make_inputs

    return make_inputs


@pytest.fixture
def agenthost_tripwire() -> Iterator[Tripwire]:
    """A local HTTP listener that answers every request and records it (``Tripwire``)."""
    from agenthost.testing.net import tripwire

    with tripwire() as wire:
        yield wire
