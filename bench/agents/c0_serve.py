"""Run flyte-sdk's ``c0`` connector server with its sockets on 127.0.0.1.

``c0`` binds ``[::]:PORT`` and its Prometheus endpoint on every interface; benchmarks serve on
loopback only, so this wrapper rewrites those two addresses and then runs ``c0`` unchanged
(``python c0_serve.py --port N --prometheus_port M --modules c0_bench``). Runs only in the
flyte-sdk benchmark venv; costs one small module import on top of ``c0`` itself.
"""

from __future__ import annotations

import functools
import sys

import prometheus_client
from flyte._bin.connect import main
from flyte.connectors._grpc import grpc  # sets c0's grpc environment before grpc loads

_add_insecure_port = grpc.aio._server.Server.add_insecure_port


def _loopback_port(self: grpc.aio.Server, address: str) -> int:
    return _add_insecure_port(self, address.replace("[::]:", "127.0.0.1:"))


grpc.aio._server.Server.add_insecure_port = _loopback_port  # type: ignore[method-assign]
prometheus_client.start_http_server = functools.partial(  # type: ignore[assignment]
    prometheus_client.start_http_server, addr="127.0.0.1"
)

if __name__ == "__main__":
    sys.exit(main())
