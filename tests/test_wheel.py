"""The installed package is the product: the wheel, installed as a user installs it, serves and
solves.

Every other test runs on the editable install, whose import hook serves modules straight from the
source tree, so a module that setup.py leaves out of the distribution goes unnoticed there (one
once did: the image's ``qsched serve`` died at start). Here the wheel is built from a copy of the
sources, installed (not editable) into a fresh virtual environment, and run from a directory
outside the repository: ``qsched serve`` on 127.0.0.1, ``qsched health`` and one solve through it.

The fresh environment borrows its third-party packages from the project's environment: installing
the locked runtime dependencies into it takes minutes, far longer than the rest of the test. A
``.pth`` file holds the project's site-packages directory as a plain line, which Python appends
to ``sys.path`` without running the ``.pth`` files inside that directory; the editable install's
import hook (one of those files) therefore stays inactive, and ``qsched`` can only come from the
wheel, which the first test checks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from distribution import ROOT, build_inputs, mapped_folders

PROBLEM = ROOT / "datasets" / "examples" / "gen-8x3-s1.json"

#: Bounds on each step: building the wheel, installing it, a command, the server's start.
BUILD_TIMEOUT = 300.0
INSTALL_TIMEOUT = 180.0
COMMAND_TIMEOUT = 120.0
START_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
LISTENING = re.compile(r"listening on (127\.0\.0\.1:\d+)")

pytestmark = pytest.mark.timeout(900)


def _environment() -> dict[str, str]:
    """This process's environment without PYTHONPATH, which could point into the checkout."""
    return {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


def _run(command: list[str | Path], cwd: Path, timeout: float) -> str:
    """Run a command (without PYTHONPATH), failing on a non-zero exit; its stdout."""
    done = subprocess.run(
        [str(word) for word in command],
        cwd=cwd,
        env=_environment(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, (
        f"{command} exited {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr[-3000:]}"
    )
    return done.stdout


@dataclass(frozen=True)
class Installed:
    """The fresh environment the wheel went into, and a working directory outside the repo."""

    venv: Path
    workdir: Path

    @property
    def qsched(self) -> Path:
        return self.venv / "bin" / "qsched"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


def _copy_build_inputs(destination: Path) -> Path:
    """What the build reads (deploy/Dockerfile copies the same), caches left out: building from
    a copy keeps the checkout's own ``build/`` (stale modules included) out of the wheel."""
    skipped = shutil.ignore_patterns("__pycache__", "*.py[cod]")
    destination.mkdir()
    for name in build_inputs():
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, destination / name, ignore=skipped)
        else:
            shutil.copy2(ROOT / name, destination / name)
    return destination


def _borrow_dependencies(venv: Path) -> None:
    """Put the project environment's site-packages on the fresh environment's path, as a plain
    ``.pth`` line (see the module docstring)."""
    python = f"python{sys.version_info.major}.{sys.version_info.minor}"
    borrowed = dict.fromkeys(sysconfig.get_path(name) for name in ("purelib", "platlib"))
    (venv / "lib" / python / "site-packages" / "project-dependencies.pth").write_text(
        "".join(f"{path}\n" for path in borrowed)
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel built from the checkout, installed into a fresh virtual environment."""
    scratch = tmp_path_factory.mktemp("wheel")
    source = _copy_build_inputs(scratch / "source")
    wheels = scratch / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", wheels, source],
        cwd=scratch,
        timeout=BUILD_TIMEOUT,
    )
    (wheel,) = wheels.glob("qsched-*.whl")
    venv = scratch / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=scratch, timeout=60)
    _borrow_dependencies(venv)
    _run(
        [*pip, "--python", venv / "bin" / "python", "install", "--no-deps", "--no-index", wheel],
        cwd=scratch,
        timeout=INSTALL_TIMEOUT,
    )
    workdir = scratch / "elsewhere"
    workdir.mkdir()
    return Installed(venv, workdir)


def _modules(folder: Path, package: str) -> set[str]:
    """The dotted names of the modules under ``folder``, which installs as ``package``."""
    names = set()
    for path in folder.rglob("*.py"):
        parts = path.relative_to(folder).with_suffix("").parts
        names.add(".".join([package, *parts]).removesuffix(".__init__"))
    return names


def test_the_wheel_holds_every_module_and_is_what_python_imports(installed: Installed) -> None:
    imported = Path(
        _run(
            [installed.python, "-c", "import qsched; print(qsched.__file__)"],
            cwd=installed.workdir,
            timeout=COMMAND_TIMEOUT,
        ).strip()
    )
    assert installed.venv in imported.parents, f"qsched imported from {imported}, not the wheel"
    in_the_wheel = _modules(imported.parent, "qsched")
    folders = {"qsched": "qsched", **mapped_folders()}
    in_the_sources = set().union(*(_modules(ROOT / f, p) for p, f in folders.items()))
    missing = in_the_sources - in_the_wheel
    assert not missing, f"modules of the source tree missing from the wheel: {sorted(missing)}"


@pytest.fixture
def server(installed: Installed) -> Iterator[str]:
    """``qsched serve`` from the wheel on 127.0.0.1 (any free port), its address; always stopped
    (SIGTERM, then SIGKILL of its process group)."""
    out, err = installed.workdir / "serve.out", installed.workdir / "serve.err"
    command = [installed.qsched, "serve", "--address", "127.0.0.1:0", "--db", "jobs.db"]
    with open(out, "w") as stdout, open(err, "w") as stderr:
        process = subprocess.Popen(
            command,
            cwd=installed.workdir,
            env=_environment(),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not (match := LISTENING.search(out.read_text())):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"`qsched serve` printed no address within {START_TIMEOUT}s "
                    f"(exit code {process.poll()}):\nstderr: {err.read_text()[-3000:]}"
                )
            time.sleep(0.1)
        yield match[1]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)


def test_the_installed_qsched_serves_and_solves(installed: Installed, server: str) -> None:
    health = _run(
        [installed.qsched, "health", "--server", server],
        cwd=installed.workdir,
        timeout=COMMAND_TIMEOUT,
    )
    assert health.strip() == "SERVING"

    answer = _run(
        [installed.qsched, "solve", PROBLEM, "--server", server, "--solver", "min-min", "--json"],
        cwd=installed.workdir,
        timeout=COMMAND_TIMEOUT,
    )
    problem = json.loads(PROBLEM.read_text())
    assignment = json.loads(answer)["schedule"]["assignment"]
    assert set(assignment) == {task["id"] for task in problem["tasks"]}
    assert set(assignment.values()) <= {machine["id"] for machine in problem["machines"]}
