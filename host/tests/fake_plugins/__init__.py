"""Fake plugins for the host's tests and the repository's cross-distribution suites, one module
per purpose, loaded by a server with ``--modules fake_plugins.<module>`` (as datasette keeps
``tests/plugins/``):

- ``basic``: the everyday agents (async, sync, sensor, failing, slow, paged logs...);
- ``hardening``: agents that hold calls in flight or return big metadata;
- ``ops``, ``seed``: blocking work handed to threads, and a seed-style plugin imported before
  the loader reaches it;
- ``cli_agents``: the agents of the ``run``/``propeller-config`` command tests;
- ``faulty``: misbehaving agents (raising, hanging, leaking, crashing...);
- ``stubborn``: an agent whose coroutine swallows its cancellation;
- ``exit_on_import``, ``baseexception_on_import``, ``import_side_effect``,
  ``hangs_at_import``, ``prints_bytes``: plugins whose import misbehaves;
- ``sized``: outputs of a chosen size (the propeller-contract tests).

The folder above this package is on pytest's ``pythonpath`` (the root ``pyproject.toml``), so
tests import these modules directly; a server subprocess gets it through ``env()``.
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).resolve().parent.parent
"""The folder holding this package (``host/tests``)."""


def env(**extra: str) -> dict[str, str]:
    """Environment entries with which a server subprocess imports ``fake_plugins`` (plus
    ``extra`` variables), for ``running_server(env=...)`` and friends."""
    from agenthost.testing import pythonpath_env

    return pythonpath_env(FOLDER, **extra)
