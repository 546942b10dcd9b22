"""One ``--workers`` worker process (``python -m agenthost.server.worker``, started by
``agenthost.server.supervisor``): read the configuration the supervisor passed in
``AGENTHOST_WORKER_CONFIG``, serve like a single server, and stop if the supervisor is gone."""

from __future__ import annotations

import os
import signal
import sys

from agenthost.server.app import serve
from agenthost.server.config import CONFIG_ENV, SUPERVISOR_PID_ENV, ServerConfig
from agenthost.server.logs import configure_logging
from agenthost.server.process import run_process


def main() -> None:
    """Entry point of a worker process."""
    config = ServerConfig.from_json(os.environ[CONFIG_ENV])
    configure_logging(config.log_level, config.log_format)
    supervisor = int(os.environ.get(SUPERVISOR_PID_ENV) or os.getppid())
    _terminate_with(supervisor)
    sys.exit(run_process(serve(config, parent_pid=supervisor), config.event_loop))


def _terminate_with(supervisor: int) -> None:
    """Have Linux send this worker SIGTERM when its supervisor ends (``PR_SET_PDEATHSIG``),
    and exit now if it already has. The watch on the supervisor (``watch_parent``) starts
    only once the worker serves: without this, a worker whose plugin import never returns
    outlived a supervisor that was killed."""
    if sys.platform == "linux":
        try:
            import ctypes

            ctypes.CDLL(None).prctl(ctypes.c_int(1), ctypes.c_ulong(signal.SIGTERM))
        except (OSError, AttributeError):
            pass  # no prctl: the watch alone
    if os.getppid() != supervisor:
        sys.exit("agenthost worker: its supervisor has exited")


if __name__ == "__main__":
    main()
