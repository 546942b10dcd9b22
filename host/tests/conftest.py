"""Shared fixtures for the host's tests: throwaway plugin sites, and (through
``pytest_plugins``) the reliability tests' fixtures and summary. The test support on pytest's
``pythonpath`` (``fake_plugins``, the kits) is declared in the root ``pyproject.toml``."""

from __future__ import annotations

import os
import subprocess
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from agenthost.testing import pythonpath_env, run_cli

pytest_plugins = ["pytester", "reliability_fixtures"]


class PluginSite:
    """A temporary directory holding throwaway plugin distributions (modules plus dist-info
    with ``entry_points.txt``), discovered through importlib.metadata like installed ones."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def add(
        self,
        dist: str,
        entry_points: Mapping[str, str],
        modules: Mapping[str, str],
        version: str = "1.0.0",
    ) -> None:
        """Create distribution ``dist`` with ``flyte.agents`` ``entry_points`` and ``modules``
        ({module file name: source})."""
        for name, source in modules.items():
            (self.root / name).write_text(textwrap.dedent(source))
        info = self.root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        eps = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
        (info / "entry_points.txt").write_text(f"[flyte.agents]\n{eps}\n")

    def env(self) -> dict[str, str]:
        """An environment in which this site is on the import path."""
        return {**os.environ, **pythonpath_env(self.root)}

    def run(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run ``python -m agenthost *args`` with this site on the path."""
        return run_cli(*args, env=self.env(), check=check)


@pytest.fixture
def plugin_site(tmp_path: Path) -> PluginSite:
    """An empty throwaway plugin site."""
    return PluginSite(tmp_path / "site")


@pytest.fixture
def make_site(tmp_path: Path) -> Callable[[str], PluginSite]:
    """A factory of independent plugin sites."""
    return lambda name: PluginSite(tmp_path / name)
