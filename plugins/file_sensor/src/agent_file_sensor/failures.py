"""Which failures of a filesystem check are worth waiting out.

Permanent (the task FAILS): a missing backend package, permission denied, anything unknown.
Transient (the task stays RUNNING with the error in its message): network trouble, timeouts,
throttling and server-side 5xx answers. Classification walks the exception's cause chain and
looks at class names and error codes, so no backend library is imported to decide.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Iterator

from agent_file_sensor.errors import BackendNotInstalledError
from agenthost import BackendUnavailableError

_TRANSIENT_CLASS_NAMES = frozenset(
    {
        # botocore / aiobotocore
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "ProxyConnectionError",
        "HTTPClientError",
        "ResponseStreamingError",
        # aiohttp
        "ClientConnectionError",
        "ClientConnectorError",
        "ClientOSError",
        "ServerDisconnectedError",
        "ServerTimeoutError",
        "ClientPayloadError",
        # requests / urllib3 / google-auth transport
        "ConnectTimeout",
        "ReadTimeout",
        "NewConnectionError",
        "ProtocolError",
        "TransportError",
    }
)

_TRANSIENT_ERROR_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "SlowDown",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "ServiceUnavailable",
        "BandwidthLimitExceeded",
    }
)

_TRANSIENT_HTTP_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

_TRANSIENT_ERRNOS = frozenset(
    {
        errno.ETIMEDOUT,
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.EAGAIN,
        errno.EBUSY,  # s3fs's translation of 503 SlowDown
        getattr(errno, "EREMOTEIO", 121),  # s3fs's translation of 500 InternalError
    }
)


def is_transient_error(error: BaseException) -> bool:
    """Whether ``error`` (or anything in its cause chain) is network trouble, a timeout or
    throttling, which a later poke may get past. Permission and missing-backend errors are
    never transient."""
    chain = list(_cause_chain(error))
    if any(isinstance(e, (PermissionError, BackendNotInstalledError)) for e in chain):
        return False
    return any(_is_transient_one(e) for e in chain)


def _is_transient_one(error: BaseException) -> bool:
    if isinstance(
        error, (ConnectionError, TimeoutError, asyncio.TimeoutError, BackendUnavailableError)
    ):
        return True
    if any(cls.__name__ in _TRANSIENT_CLASS_NAMES for cls in type(error).__mro__):
        return True
    if isinstance(error, OSError) and error.errno in _TRANSIENT_ERRNOS:
        return True
    code, status = _error_code_and_status(error)
    return code in _TRANSIENT_ERROR_CODES or status in _TRANSIENT_HTTP_STATUSES


def _error_code_and_status(error: BaseException) -> tuple[str | None, int | None]:
    """The service error code and HTTP status of a botocore ``ClientError`` (``.response``)
    or a gcsfs ``HttpError`` (``.code``), when the error carries them."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        details = response.get("Error") or {}
        meta = response.get("ResponseMetadata") or {}
        code = details.get("Code") if isinstance(details, dict) else None
        status = meta.get("HTTPStatusCode") if isinstance(meta, dict) else None
        return (
            str(code) if code is not None else None,
            status if isinstance(status, int) else None,
        )
    code = getattr(error, "code", None)
    if isinstance(code, int) and not isinstance(code, bool):
        return None, code
    return None, None


def _cause_chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
