"""Old name of ``fake_plugins.people`` (for tests that still load it as ``--modules people_agents``
or import it); goes once they name ``fake_plugins.people``."""

from fake_plugins.people import *  # noqa: F403
