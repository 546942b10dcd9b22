"""A plugin module whose import calls ``sys.exit`` (the host must survive it)."""

import sys

sys.exit(3)
