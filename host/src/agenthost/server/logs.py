"""Logging for the server: plain text or one JSON object per line, on stderr."""

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


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Send agenthost's (and plugins') logs to stderr at ``level`` in ``fmt``."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
