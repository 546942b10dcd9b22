"""A plugin module whose import never returns (a plugin waiting on a network at import), when
``AGENTHOST_TEST_HANG_AT_IMPORT`` is set; it writes ``hanging-at-import-<pid>`` into the
``AGENTHOST_TEST_MARKERS`` directory first. With ``AGENTHOST_TEST_HANG_UNTIL`` set too, the
import returns once the file it names exists."""

import os
import threading
import time
from pathlib import Path

if os.environ.get("AGENTHOST_TEST_HANG_AT_IMPORT"):
    (Path(os.environ["AGENTHOST_TEST_MARKERS"]) / f"hanging-at-import-{os.getpid()}").touch()
    until = os.environ.get("AGENTHOST_TEST_HANG_UNTIL")
    if until is None:
        threading.Event().wait()
    else:
        while not Path(until).exists():
            time.sleep(0.05)
