"""Plugin discovery in process: distribution names and versions read from METADATA's head."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agenthost.loading.discovery import name_and_version

if sys.version_info >= (3, 12):
    from importlib import metadata
else:
    import importlib_metadata as metadata


def _dist(tmp_path: Path, folder: str, files: dict[str, str]) -> metadata.Distribution:
    path = tmp_path / folder
    path.mkdir()
    for name, text in files.items():
        (path / name).write_text(text)
    return metadata.Distribution.at(path)


def test_name_and_version_come_from_the_head_of_metadata(tmp_path: Path) -> None:
    dist = _dist(
        tmp_path,
        "agent_x-2.0.dist-info",
        {
            "METADATA": "Metadata-Version: 2.1\nname: Agent_X\nSummary: one\n  two\n"
            "Version: 2.0.1\nVersion: 9\n\nName: not a header\nVersion: 3\n"
        },
    )
    assert name_and_version(dist) == ("Agent_X", "2.0.1")


def test_a_distribution_without_both_in_metadata_is_read_whole(tmp_path: Path) -> None:
    egg = _dist(tmp_path, "agent_y.egg-info", {"PKG-INFO": "Metadata-Version: 1.0\nName: y\n"})
    assert name_and_version(egg) == ("y", None)
    no_version = _dist(tmp_path, "z-1.dist-info", {"METADATA": "Name: z\n\nVersion: 1\n"})
    assert name_and_version(no_version) == ("z", None)


def test_every_installed_distribution_reads_as_the_email_parser_reads_it() -> None:
    checked = 0
    for dist in metadata.distributions():
        about = dist.metadata
        assert name_and_version(dist) == (about["Name"], about["Version"]), dist
        checked += 1
    assert checked > 10


def test_reading_every_installed_distribution_does_not_import_the_email_parser() -> None:
    code = (
        "import sys\nfrom agenthost.loading.discovery import discover, name_and_version\n"
        "from agenthost.loading.discovery import metadata\n"
        "discover()\nassert all(name_and_version(d)[1] for d in metadata.distributions())\n"
        "print(sorted(m for m in sys.modules if m.startswith('email.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
