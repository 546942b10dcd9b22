"""Sorting the exceptions the BigQuery client raises: transient or not, and a short message
(BigQuery's own words, never a URL, a traceback or a credential)."""

from __future__ import annotations

import re

from agent_bigquery.status import clean_message

RETRYABLE_REASONS = frozenset({"rateLimitExceeded", "backendError", "internalError", "badGateway"})
"""Error reasons ``google-cloud-bigquery``'s ``DEFAULT_RETRY`` retries whatever the HTTP status:
BigQuery answers a caller that is too fast with 403 ``rateLimitExceeded``."""


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the same call later may succeed (rate limits, including 403
    ``rateLimitExceeded``, 5xx, network trouble)."""
    import google.auth.exceptions
    import requests
    from google.api_core import exceptions as api

    if isinstance(exc, api.GoogleAPICallError) and _reason(exc) in RETRYABLE_REASONS:
        return True
    return isinstance(
        exc,
        (
            api.TooManyRequests,
            api.ServerError,
            api.RetryError,
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
            google.auth.exceptions.TransportError,
            ConnectionError,
            TimeoutError,
        ),
    )


def _reason(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None) or []
    first = errors[0] if isinstance(errors, list) and errors else None
    return str(first.get("reason") or "") if isinstance(first, dict) else ""


def is_api_error(exc: BaseException) -> bool:
    """Whether BigQuery answered the call with an HTTP error status."""
    from google.api_core import exceptions as api

    return isinstance(exc, api.GoogleAPICallError)


def is_not_found(exc: BaseException) -> bool:
    """Whether BigQuery answered 404 (no such job, project or dataset)."""
    from google.api_core import exceptions as api

    return isinstance(exc, api.NotFound)


def is_conflict(exc: BaseException) -> bool:
    """Whether BigQuery answered 409 (e.g. a job with this id exists already)."""
    from google.api_core import exceptions as api

    return isinstance(exc, api.Conflict)


def is_unauthenticated(exc: BaseException) -> bool:
    """Whether the credentials were refused or could not be refreshed."""
    import google.auth.exceptions
    from google.api_core import exceptions as api

    return isinstance(exc, (api.Unauthorized, google.auth.exceptions.RefreshError))


_REQUEST_PREFIX = re.compile(r"\b(?:GET|POST|PUT|PATCH|DELETE) \S+: ")
_URL = re.compile(r"https?://\S+")


def api_error_message(exc: BaseException) -> str:
    """A short description of ``exc`` for a task message or a gRPC error."""
    import google.auth.exceptions
    from google.api_core import exceptions as api

    if isinstance(exc, api.GoogleAPICallError):
        reason = ""
        text = exc.message or ""
        errors = getattr(exc, "errors", None) or []
        if errors and isinstance(errors[0], dict):
            reason = str(errors[0].get("reason") or "")
            text = str(errors[0].get("message") or text)
        text = _REQUEST_PREFIX.sub("", text).split("\n\nLocation:")[0]
        text = clean_message(_URL.sub("<url>", text)) or type(exc).__name__
        code = exc.code if exc.code is not None else "error"
        return f"{code} {reason}: {text}" if reason else f"{code}: {text}"
    if isinstance(exc, api.RetryError):
        cause = exc.cause
        last = f" (last error: {api_error_message(cause)})" if cause is not None else ""
        return f"BigQuery did not answer in time{last}"
    if isinstance(exc, google.auth.exceptions.RefreshError):
        # google-auth's first argument is the token endpoint's "error: description"; the
        # second, the whole answer, is left out.
        detail = exc.args[0] if exc.args and isinstance(exc.args[0], str) else ""
        detail = clean_message(_URL.sub("<url>", detail))
        return "no access token was issued" + (f" ({detail})" if detail else "")
    return f"cannot reach BigQuery ({type(exc).__name__})"
