"""Remove the server's own installation paths and known secret values from any text that
leaves the process (gRPC status details, ``Resource.message``)."""

from __future__ import annotations

import os
import re
import site
import sys
from pathlib import Path

from agenthost.connection import current_connection
from agenthost.secrets import SECRET_PLACEHOLDER, known_secret_values, mask_values, spellings


def _installation_paths() -> list[tuple[str, str]]:
    """(path, placeholder) pairs, most specific first."""
    import agenthost

    pairs: list[tuple[str, str]] = []
    package_dir = str(Path(agenthost.__file__).resolve().parent)
    pairs.append((package_dir, "<agenthost>"))
    try:
        site_dirs = [*site.getsitepackages(), site.getusersitepackages()]
    except AttributeError:  # some embedded interpreters lack these
        site_dirs = []
    for path in site_dirs:
        pairs.append((path, "<site-packages>"))
    for path in {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix}:
        pairs.append((path, "<python>"))
    home = os.path.expanduser("~")
    if home and home != "/":
        pairs.append((home, "~"))
    expanded: list[tuple[str, str]] = []
    for path, placeholder in pairs:
        if not path or path == os.sep:
            continue
        expanded.append((path, placeholder))
        real = os.path.realpath(path)
        if real != path:
            expanded.append((real, placeholder))
    expanded.sort(key=lambda pair: len(pair[0]), reverse=True)
    return expanded


class Scrubber:
    """Replaces installation paths with placeholders and secret values with ``***``.

    The pattern is rebuilt only when the set of known secrets changes, so scrubbing a short
    message costs one regular-expression search.
    """

    def __init__(self, paths: list[tuple[str, str]] | None = None) -> None:
        self._paths = _installation_paths() if paths is None else paths
        self._placeholders = dict(self._paths)
        self._secrets: frozenset[str] | None = None
        self._spelled: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None

    def _current_pattern(self) -> re.Pattern[str]:
        secrets = known_secret_values()
        if self._pattern is None or secrets != self._secrets:
            spelled = {form for value in secrets for form in spellings(value)}
            needles = sorted({*spelled, *self._placeholders}, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(n) for n in needles if n))
            self._secrets = secrets
            self._spelled = frozenset(spelled)
        return self._pattern

    def __call__(self, text: str) -> str:
        """``text`` with paths and secrets (the deployment's and the current call's
        connection's, as they are or escaped: see ``spellings``) replaced."""
        if not text:
            return text
        secrets = current_connection().secrets
        if secrets:
            text = mask_values(text, secrets.values())
        pattern = self._current_pattern()
        if not pattern.pattern:
            return text
        return pattern.sub(self._replacement, text)

    def _replacement(self, match: re.Match[str]) -> str:
        found = match.group(0)
        if found in self._spelled:
            return SECRET_PLACEHOLDER
        return self._placeholders.get(found, SECRET_PLACEHOLDER)
