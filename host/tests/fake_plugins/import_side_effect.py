"""Importing this module leaves a marker file: proof that something imported it. No test
loads it on purpose; requests that name it must never cause its import."""

import os
from pathlib import Path

_directory = os.environ.get("AGENTHOST_TEST_MARKERS")
if _directory:
    Path(_directory, "imported-import_side_effect").write_text("imported")
