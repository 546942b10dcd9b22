"""The old import path of the ``--workers`` modules, re-exported: the supervisor is
``agenthost.server.supervisor``, a worker process ``agenthost.server.worker``, the
configuration's JSON form ``ServerConfig.to_json``/``from_json``. ``python -m
agenthost.server.workers`` still runs a worker."""

from agenthost.server.config import CONFIG_ENV, ServerConfig
from agenthost.server.supervisor import MAX_BACKOFF, STOP_STAGGER, supervise
from agenthost.server.worker import main

config_to_json = ServerConfig.to_json
config_from_json = ServerConfig.from_json

__all__ = [
    "CONFIG_ENV",
    "MAX_BACKOFF",
    "STOP_STAGGER",
    "config_from_json",
    "config_to_json",
    "main",
    "supervise",
]

if __name__ == "__main__":
    main()
