"""Cap glibc's malloc arenas so a long-running server's resident memory stays flat.

glibc gives each thread that allocates under contention an arena of its own (up to 8 per
core) and rarely returns their memory. The server's threads (agents' blocking calls, grpc's
poller, one per metrics scrape) made RSS creep up by ~10% over a 10-minute soak with no
retained objects; two arenas kept it flat (docs/reliability.md). This is what the
``MALLOC_ARENA_MAX`` environment variable does, applied by the server itself so every
installation gets it.
"""

from __future__ import annotations

import logging
import os
import sys

logger = logging.getLogger("agenthost.server")

M_ARENA_MAX = -8
"""glibc's ``mallopt`` parameter number for the arena limit (``malloc.h``)."""

DEFAULT_ARENAS = 2
"""The arena limit applied unless ``MALLOC_ARENA_MAX`` is set."""


def limit_malloc_arenas(arenas: int = DEFAULT_ARENAS) -> bool:
    """Limit glibc to ``arenas`` malloc arenas; True if applied. Does nothing (False) when
    ``MALLOC_ARENA_MAX`` is set (glibc already honours it), off Linux, or without glibc.
    Arenas that exist already are kept; no new ones are created beyond the limit."""
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    applied = bool(mallopt(M_ARENA_MAX, arenas))
    if applied:
        logger.debug("malloc arenas limited to %d", arenas)
    return applied
