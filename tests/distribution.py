"""What the distribution is built from, shared by the wheel test and the image's checks.

setup.py maps top-level folders into ``qsched``; tools/typecheck_tree.py already reads that
mapping without running setup.py, so it is loaded from there rather than written again.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def mapped_folders() -> dict[str, str]:
    """Installed package -> the folder it comes from (setup.py's ``MAPPED_FOLDERS``)."""
    spec = importlib.util.spec_from_file_location(
        "typecheck_tree", ROOT / "tools" / "typecheck_tree.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    folders: dict[str, str] = module.mapped_folders()
    return folders


def build_inputs() -> list[str]:
    """The files and folders a build of the distribution reads (deploy/Dockerfile copies them)."""
    return ["pyproject.toml", "setup.py", "README.md", "qsched", *mapped_folders().values()]
