"""Sort ``snowflake.connector`` exceptions into what the agent does about them.

=============  ===============================================  =================================
kind           which errors                                     what the agent does
=============  ===============================================  =================================
``session``    the session is gone (connection closed, session  drop the cached connection and
               or master token expired/invalid)                 try once more with a new one
``transient``  the endpoint is unreachable, timed out, or       ``SnowflakeUnavailableError``
               answered 429/5xx
``credentials``  Snowflake refused the login (wrong key, user,  ``SnowflakeConfigurationError``
               disabled user, ...)
``settings``   the login named a database, warehouse, schema    ``InvalidRequestError``: the task
               or role that does not exist or the user may      must change
               not use (``3902xx``)
``query``      any other ``ProgrammingError``/``DatabaseError``  the query failed: a FAILED phase
               Snowflake reported for a statement               or INVALID_ARGUMENT at create
=============  ===============================================  =================================

Anything else is a bug and propagates (the host answers INTERNAL with a correlation id).
"""

from __future__ import annotations

import sys
from typing import Literal

from agent_snowflake.status import clean_message

Kind = Literal["session", "transient", "credentials", "settings", "query"]

SESSION_ERRNOS = frozenset({250002, 390104, 390111, 390112, 390114})
"""Connection closed; must log in again; session gone; session or master token expired."""
TRANSIENT_ERRNOS = frozenset({250001, 250003, 251011})
"""Could not connect; no response; connection timed out."""
TRANSIENT_CLASSES = (
    "InternalServerError",
    "ServiceUnavailableError",
    "GatewayTimeoutError",
    "RequestTimeoutError",
    "BadGatewayError",
    "TooManyRequests",
    "OtherHTTPRetryableError",
    "RequestExceedMaxRetryError",
)
CREDENTIAL_CLASSES = ("ForbiddenError",)
INVALID_PRIVATE_KEY_ERRNO = 251008
SETTINGS_ERRNOS = range(390200, 390300)
"""Login refused for the session settings (390201: the database, 390202: the warehouse does not
exist or is not authorized, ...)."""


def kind_of(exc: BaseException) -> Kind | None:
    """What kind of failure ``exc`` is, or None if it is not a Snowflake connector error."""
    errors = sys.modules.get("snowflake.connector.errors")
    if errors is None or not isinstance(exc, errors.Error):
        return None
    errno = exc.errno if isinstance(exc.errno, int) else -1
    name = type(exc).__name__
    if errno in SESSION_ERRNOS or name == "TokenExpiredError":
        return "session"
    if errno in TRANSIENT_ERRNOS or name in TRANSIENT_CLASSES:
        return "transient"
    if SETTINGS_ERRNOS.start <= errno < SETTINGS_ERRNOS.stop:
        return "settings"
    if 390100 <= errno < 390400 or errno == INVALID_PRIVATE_KEY_ERRNO or name in CREDENTIAL_CLASSES:
        return "credentials"
    if isinstance(exc, errors.OperationalError):
        return "transient"
    if isinstance(exc, errors.DatabaseError):
        return "query"
    return "transient" if isinstance(exc, (errors.HttpError, errors.InterfaceError)) else None


def message_of(exc: BaseException) -> str:
    """The connector's one-line message (``errno (sqlstate): text``), cleaned and bounded."""
    text = getattr(exc, "raw_msg", None) or getattr(exc, "msg", None) or str(exc)
    errno = getattr(exc, "errno", None)
    sqlstate = getattr(exc, "sqlstate", None)
    prefix = ""
    if isinstance(errno, int) and errno > 0:
        prefix = f"{errno:06d}" + (f" ({sqlstate})" if sqlstate else "") + ": "
    return clean_message(prefix + str(text))
