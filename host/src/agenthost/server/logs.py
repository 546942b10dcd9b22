"""Logging for the server: plain text or one JSON object per line, on stderr. Every record is
formatted and then has known secret values (see ``agenthost.secrets``) replaced by ``***``, so
an agent exception that carries a secret cannot leak it through its logged traceback."""

from __future__ import annotations

import json
import logging
import os
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


LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("text", "json")


class LogSettingError(ValueError):
    """A log level or format that is not one of the accepted values."""

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"{option}: {reason}")
        self.option = option
        self.reason = reason


def resolve_log_settings(level: str | None, fmt: str | None) -> tuple[str, str]:
    """The log level name and format to use: the agenthost setting if given, else flytekit's
    ``FLYTE_SDK_LOGGING_LEVEL`` (a number such as ``20``, or a level name) and
    ``FLYTE_SDK_LOGGING_FORMAT``, else ``INFO`` and ``text``."""
    if level is None:
        flyte_level = os.environ.get("FLYTE_SDK_LOGGING_LEVEL", "").strip()
        if flyte_level:
            name = logging.getLevelName(int(flyte_level)) if flyte_level.isdigit() else None
            level = name if name in LEVELS else flyte_level
            option = "FLYTE_SDK_LOGGING_LEVEL"
        else:
            level, option = "INFO", "--log-level"
    else:
        option = "--log-level"
    if level.upper() not in LEVELS:
        raise LogSettingError(option, "must be DEBUG, INFO, WARNING or ERROR (or 10-50)")
    if fmt is None:
        fmt = os.environ.get("FLYTE_SDK_LOGGING_FORMAT", "").strip().lower() or "text"
        if fmt not in FORMATS:
            raise LogSettingError("FLYTE_SDK_LOGGING_FORMAT", "must be text or json")
    elif fmt not in FORMATS:
        raise LogSettingError("--log-format", "must be text or json")
    return level.upper(), fmt
