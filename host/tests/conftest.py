"""Shared fixtures for the host's tests."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest


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
        path = os.pathsep.join(filter(None, [str(self.root), os.environ.get("PYTHONPATH")]))
        return {**os.environ, "PYTHONPATH": path}

    def run(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run ``python -m agenthost *args`` with this site on the path."""
        return subprocess.run(
            [sys.executable, "-m", "agenthost", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=check,
            stdin=subprocess.DEVNULL,
        )


@pytest.fixture
def plugin_site(tmp_path: Path) -> PluginSite:
    """An empty throwaway plugin site."""
    return PluginSite(tmp_path / "site")


@pytest.fixture
def make_site(tmp_path: Path) -> Callable[[str], PluginSite]:
    """A factory of independent plugin sites."""
    return lambda name: PluginSite(tmp_path / name)
