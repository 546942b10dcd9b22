"""Old name of ``fake_plugins.hardening`` (for tests that still load it as ``--modules hardening_agents``
or import it); goes once they name ``fake_plugins.hardening``."""

from fake_plugins.hardening import *  # noqa: F403
