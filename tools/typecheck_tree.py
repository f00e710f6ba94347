"""Lay out the installed package's tree for static tools, as symlinks.

``service/``, ``solvers/`` and ``baselines/`` install as ``qsched.service``,
``qsched.solvers`` and ``qsched.baselines`` (setup.py's `MAPPED_FOLDERS`), which no static
tool can follow from the source tree. This links every entry of ``qsched/`` and each
mapped folder into ``build/typecheck/qsched``, so mypy (``mypy_path``) sees the package
exactly as it installs, every source line included. Folders are linked, not files: a new
module is seen without running this again.
"""

from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "build" / "typecheck" / "qsched"


def mapped_folders() -> dict[str, str]:
    """setup.py's `MAPPED_FOLDERS`, read without running setup.py."""
    module = ast.parse((ROOT / "setup.py").read_text())
    for node in module.body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(isinstance(t, ast.Name) and t.id == "MAPPED_FOLDERS" for t in targets):
                value: dict[str, str] = ast.literal_eval(node.value)  # type: ignore[arg-type]
                return value
    raise SystemExit("setup.py defines no MAPPED_FOLDERS")


def main() -> int:
    shutil.rmtree(TREE.parent, ignore_errors=True)
    TREE.mkdir(parents=True)
    for entry in (ROOT / "qsched").iterdir():
        if entry.name != "__pycache__":
            (TREE / entry.name).symlink_to(entry)
    for package, folder in mapped_folders().items():
        (TREE / package.removeprefix("qsched.")).symlink_to(ROOT / folder)
    print(TREE.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
