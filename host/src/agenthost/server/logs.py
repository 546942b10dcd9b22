"""Logging for the server: plain text or one JSON object per line, on stderr. Every record is
formatted and then has known secret values (see ``agenthost.secrets``) replaced by ``***``, so
an agent exception that carries a secret cannot leak it through its logged traceback.

Every record logged while a call is handled, by the host or by agent code (in the call's task
or in the thread that runs a blocking agent method), carries what the request says about the
Flyte execution (``CALL_FIELDS``): project, domain, execution name, node and retry attempt from
``task_execution_metadata`` (CreateTask, ExecuteTaskSync), and ``output_prefix`` where the
request has one. ``bind_call`` makes a request the current one; the fields are read from it only
when a record is actually written. JSON lines carry them as fields, text lines append them as
``key=value``.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
import time
from typing import Any

CALL_FIELDS = ("project", "domain", "execution_name", "node_id", "retry_attempt", "output_prefix")
"""What a call's log records say about its Flyte execution (each only when the request has it)."""

_EXTRA_FIELDS = ("task_type", "operation", "code", "correlation_id", *CALL_FIELDS)

_CALL: contextvars.ContextVar[Any] = contextvars.ContextVar("agenthost_call", default=None)


def bind_call(request: Any) -> contextvars.Token[Any]:
    """Make ``request`` (a request message) the current call's, for
    the log records of this task and of what it runs in threads; undo with ``unbind_call``."""
    return _CALL.set(request)


def unbind_call(token: contextvars.Token[Any]) -> None:
    """Forget the request ``bind_call`` bound."""
    _CALL.reset(token)


def call_fields(request: Any) -> dict[str, str]:
    """``CALL_FIELDS`` found in ``request``; empty strings are left out."""
    fields: dict[str, str] = {}
    descriptor = getattr(request, "DESCRIPTOR", None)
    if descriptor is not None and "header" in descriptor.fields_by_name:
        if not request.HasField("header"):  # ExecuteTaskSync: the header says it all
            return {}
        request = request.header
        descriptor = request.DESCRIPTOR
    if (
        descriptor is not None
        and "task_execution_metadata" in descriptor.fields_by_name
        and request.HasField("task_execution_metadata")
    ):
        task = request.task_execution_metadata.task_execution_id
        node = task.node_execution_id
        execution = node.execution_id
        fields["project"] = execution.project or task.task_id.project
        fields["domain"] = execution.domain or task.task_id.domain
        fields["execution_name"] = execution.name
        fields["node_id"] = node.node_id
        fields["retry_attempt"] = str(task.retry_attempt)
    fields["output_prefix"] = str(getattr(request, "output_prefix", ""))
    return {name: value for name, value in fields.items() if value}


class CallContextFilter(logging.Filter):
    """Adds the current call's ``CALL_FIELDS`` to every record (see ``bind_call``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always True; sets the fields the record does not have yet."""
        request = _CALL.get()
        if request is not None:
            for name, value in call_fields(request).items():
                if not hasattr(record, name):
                    setattr(record, name, value)
        return True


class TextFormatter(logging.Formatter):
    """``time level logger: message``, then the call's ``CALL_FIELDS`` as ``key=value``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The record as a text line (plus its traceback, if any)."""
        text = super().format(record)
        pairs = [
            f"{name}={_text_value(str(value))}"
            for name in CALL_FIELDS
            if (value := getattr(record, name, None)) is not None
        ]
        if not pairs:
            return text
        head, newline, rest = text.partition("\n")
        return f"{head} [{' '.join(pairs)}]{newline}{rest}"


def _text_value(value: str) -> str:
    """``value`` as is, or JSON-quoted if it holds spaces or control characters (request fields
    must not be able to forge a log line)."""
    if value.isprintable() and " " not in value:
        return value
    return json.dumps(value)


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
    inner = JsonFormatter() if fmt == "json" else TextFormatter()
    handler.setFormatter(SecretScrubbingFormatter(inner))
    handler.addFilter(CallContextFilter())
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


def _level_of_number(text: str) -> str | None:
    """The level name of a number as flytekit sets it (``logging.setLevel(int(...))``, any
    number): the lowest named level at or above it (25 shows what 30, WARNING, shows), or None
    if ``text`` is no number."""
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    for name in LEVELS:
        if logging.getLevelName(name) >= number:
            return name
    return LEVELS[-1]


def resolve_log_settings(level: str | None, fmt: str | None) -> tuple[str, str]:
    """The log level name and format to use: the agenthost setting if given, else flytekit's
    ``FLYTE_SDK_LOGGING_LEVEL`` (a number such as ``20``, or a level name) and
    ``FLYTE_SDK_LOGGING_FORMAT``, else ``INFO`` and ``text``."""
    if level is None:
        flyte_level = os.environ.get("FLYTE_SDK_LOGGING_LEVEL", "").strip()
        if flyte_level:
            level = _level_of_number(flyte_level) or flyte_level
            option = "FLYTE_SDK_LOGGING_LEVEL"
        else:
            level, option = "INFO", "--log-level"
    else:
        option = "--log-level"
    if level.upper() not in LEVELS:
        names = "DEBUG, INFO, WARNING, ERROR or CRITICAL"
        if option == "FLYTE_SDK_LOGGING_LEVEL":
            names += " (or a number, as flytekit reads it)"
        raise LogSettingError(option, f"must be {names}")
    if fmt is None:
        fmt = os.environ.get("FLYTE_SDK_LOGGING_FORMAT", "").strip().lower() or "text"
        if fmt not in FORMATS:
            raise LogSettingError("FLYTE_SDK_LOGGING_FORMAT", "must be text or json")
    elif fmt not in FORMATS:
        raise LogSettingError("--log-format", "must be text or json")
    return level.upper(), fmt
