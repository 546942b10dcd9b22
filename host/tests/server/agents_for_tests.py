"""Old name of ``fake_plugins.basic`` (for tests that still load it as ``--modules agents_for_tests``
or import it); goes once they name ``fake_plugins.basic``."""

from fake_plugins.basic import *  # noqa: F403
