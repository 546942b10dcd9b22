"""BigQuery's documented character sets for the identifiers the agent puts into REST paths
(``projects/{project}/jobs/{job_id}?location={location}``), checked before any request so a
crafted value can never steer the client to another API path.

* project: a Google Cloud project ID, lowercase letters, digits and hyphens starting with a
  letter (at most 30), optionally after a domain and ``:`` (legacy ``example.com:my-project``);
* location: a BigQuery location such as ``US``, ``EU`` or ``europe-west1``;
* job ID: letters, digits, ``_`` and ``-``, at most 1,024 characters.
"""

from __future__ import annotations

import re

from agenthost import InvalidRequestError

_PROJECT = re.compile(r"(?:[a-z0-9][a-z0-9.-]{0,252}:)?[a-z][a-z0-9-]{0,29}")
_LOCATION = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,62}")
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,1024}")

_RULES = {
    "project": (
        _PROJECT,
        "a Google Cloud project ID: lowercase letters, digits and hyphens, starting with a "
        "letter, at most 30 characters, optionally after 'domain:'",
    ),
    "location": (_LOCATION, "a BigQuery location: letters, digits and hyphens, such as 'US'"),
    "job_id": (_JOB_ID, "a BigQuery job ID: letters, digits, '_' and '-', at most 1024"),
}


def check_identifier(
    kind: str, value: str, field: str, error: type[InvalidRequestError] = InvalidRequestError
) -> str:
    """``value`` if it is a valid ``kind`` (``project``, ``location`` or ``job_id``), else
    ``error`` naming ``field`` (e.g. ``custom.ProjectID``) and the rule."""
    pattern, rule = _RULES[kind]
    if pattern.fullmatch(value) is None:
        shown = value if len(value) <= 80 else value[:79] + "…"
        raise error(f"{field} {shown!r} is not {rule}")
    return value
