"""Logging for the server: plain text or one JSON object per line, on stderr. Every record is
formatted and then has known secret values (see ``agenthost.secrets``) replaced by ``***``, so
an agent exception that carries a secret cannot leak it through its logged traceback."""

from __future__ import annotations

import json
import logging
import sys
import time

_EXTRA_FIELDS = ("task_type", "operation", "code", "correlation_id")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the call fields if present,
    and the traceback (``exc``) if any."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        data = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                data[name] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


class SecretScrubbingFormatter(logging.Formatter):
    """Formats with ``inner``, then replaces every known secret value with ``***``."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        from agenthost.server.scrub import Scrubber

        self.inner = inner
        self._scrub = Scrubber(paths=[])

    def format(self, record: logging.LogRecord) -> str:
        """The record formatted by ``inner``, secrets removed."""
        return self._scrub(self.inner.format(record))


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Send agenthost's (and plugins') logs to stderr at ``level`` in ``fmt``."""
    handler = logging.StreamHandler(sys.stderr)
    inner = (
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.setFormatter(SecretScrubbingFormatter(inner))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
