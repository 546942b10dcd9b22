"""One ``--workers`` worker process (``python -m agenthost.server.worker``, started by
``agenthost.server.supervisor``): read the configuration the supervisor passed in
``AGENTHOST_WORKER_CONFIG``, serve like a single server, and stop if the supervisor is gone."""

from __future__ import annotations

import os
import sys

from agenthost.server.app import serve
from agenthost.server.config import CONFIG_ENV, ServerConfig
from agenthost.server.logs import configure_logging
from agenthost.server.process import run_process


def main() -> None:
    """Entry point of a worker process."""
    config = ServerConfig.from_json(os.environ[CONFIG_ENV])
    configure_logging(config.log_level, config.log_format)
    sys.exit(run_process(serve(config, parent_pid=os.getppid()), config.event_loop))


if __name__ == "__main__":
    main()
