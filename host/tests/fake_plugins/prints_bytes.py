"""A plugin module that prints a line that is not UTF-8 on stdout at import (a library printing
Latin-1 text), and registers nothing."""

import sys

sys.stdout.flush()
sys.stdout.buffer.write(b"prints_bytes: caf\xe9 au lait\n")
sys.stdout.buffer.flush()
