"""A plugin module whose import never returns (a plugin waiting on a network at import), when
``AGENTHOST_TEST_HANG_AT_IMPORT`` is set; it writes ``hanging-at-import-<pid>`` into the
``AGENTHOST_TEST_MARKERS`` directory first."""

import os
import threading
from pathlib import Path

if os.environ.get("AGENTHOST_TEST_HANG_AT_IMPORT"):
    (Path(os.environ["AGENTHOST_TEST_MARKERS"]) / f"hanging-at-import-{os.getpid()}").touch()
    threading.Event().wait()
