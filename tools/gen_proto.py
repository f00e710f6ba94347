"""Regenerate ``qsched/v1`` from ``proto/`` with grpcio-tools.

Usage: ``python tools/gen_proto.py [OUTPUT_ROOT]`` (default: the repository root).
The drift test runs this into a temporary directory and compares the files.

protoc runs in a process of its own: its compiler carries a copy of the protobuf C++
runtime, and loaded next to ortools' (the cpsat solver, which earlier tests import)
both register the same descriptors and the process aborts.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import resources
from pathlib import Path

from google.rpc import status_pb2

REPO = Path(__file__).resolve().parent.parent
PROTO_ROOT = REPO / "proto"


def generate(output_root: Path) -> list[Path]:
    """Compile every ``proto/qsched/v1/*.proto`` into ``output_root/qsched/v1``."""
    sources = sorted((PROTO_ROOT / "qsched" / "v1").glob("*.proto"))
    well_known = resources.files("grpc_tools") / "_proto"
    googleapis = (
        Path(status_pb2.__file__).resolve().parents[2]
    )  # google/rpc/*.proto of googleapis-common-protos
    (output_root / "qsched" / "v1").mkdir(parents=True, exist_ok=True)
    args = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"-I{googleapis}",
        f"--python_out={output_root}",
        f"--pyi_out={output_root}",
        f"--grpc_python_out={output_root}",
        *(str(source.relative_to(PROTO_ROOT)) for source in sources),
    ]
    if subprocess.run(args, check=False).returncode != 0:
        raise RuntimeError("protoc failed")
    return sorted((output_root / "qsched" / "v1").glob("*_pb2*.py*"))


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO
    for path in generate(root):
        print(path)
