"""What an HTTP header value may hold, checked before a value reaches the ``openai`` client
(httpx refuses anything else, and the client reports that as a retryable connection error)."""

from __future__ import annotations

import re

_HEADER_VALUE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")


def is_header_safe(value: str) -> bool:
    """Whether ``value`` is empty or printable ASCII without leading or trailing spaces: no CR,
    LF or other control character, nothing httpx would refuse to send."""
    return not value or _HEADER_VALUE.fullmatch(value) is not None
