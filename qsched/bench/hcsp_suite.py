"""The hcsp suite's instances: their sizes, their names in records, their files, and the
published makespans their gaps are measured against.

The instances of a size ``TxM`` are the ETC files in ``DATA/hcsp/TxM/`` (plain or
compressed), each with its solution files next to it (`hcsp.solution_files`). A record
names an instance ``TxM/NAME`` (``2048x64/A.u_c_hihi``), so that names are unique across
sizes (the 2,048 x 64 and 4,096 x 128 sets reuse Braun et al.'s class names) and a record
says which size it belongs to; at the default size, 512 x 16, the name is the bare file name
(``u_c_hihi.0``), as every record made before there were sizes has it, so those records
still resume, check and report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from qsched.formats import hcsp

#: Where the sizes' folders are, under the datasets directory.
DIRECTORY = Path("hcsp")
#: The size whose instances are named without their size, and that runs unless told.
DEFAULT_SIZE = "512x16"
#: The sizes shipped in datasets/hcsp/ (any other ``TxM`` folder there works too).
SIZES = ("512x16", "2048x64", "4096x128")
#: The published method the gaps are measured against at every size (Gogos et al.'s column
#: pricing with restarts).
REFERENCE_METHOD = "CPR"
_SIZE = re.compile(r"^[1-9]\d*x[1-9]\d*$")


def parse_sizes(text: str) -> tuple[str, ...]:
    """``512x16,2048x64`` as sizes, in the order given, each once; a `ValueError` naming
    one that is not ``TASKSxMACHINES``."""
    sizes = [part.strip() for part in text.split(",") if part.strip()]
    for size in sizes:
        if not _SIZE.match(size):
            raise ValueError(f"size {size!r} is not TASKSxMACHINES (known: {','.join(SIZES)})")
    if not sizes:
        raise ValueError(f"give at least one size (known: {','.join(SIZES)})")
    return tuple(dict.fromkeys(sizes))


def record_name(size: str, instance: str) -> str:
    """How a record names ``instance`` of ``size`` (see the module's docstring)."""
    return instance if size == DEFAULT_SIZE else f"{size}/{instance}"


def size_of(name: str) -> str:
    """The size a record's instance name belongs to."""
    size, slash, _ = name.rpartition("/")
    return size if slash else DEFAULT_SIZE


def _split(name: str) -> tuple[str, str]:
    return size_of(name), name.rpartition("/")[2]


def names(data: Path, sizes: Iterable[str]) -> list[str]:
    """The record names of every instance of ``sizes``, size by size, sorted within each;
    a `FileNotFoundError` for a size with no instances in ``data``."""
    found = []
    for size in sizes:
        directory = data / DIRECTORY / size
        instances = (
            sorted(hcsp.instance_name(p) for p in directory.iterdir() if hcsp.is_etc_file(p))
            if directory.is_dir()
            else []
        )
        if not instances:
            raise FileNotFoundError(f"{directory}: no HCSP instances of size {size}")
        found += [record_name(size, instance) for instance in instances]
    return found


def path(data: Path, name: str) -> Path:
    """The file of the instance a record names."""
    size, instance = _split(name)
    return hcsp.instance_path(data / DIRECTORY / size, instance)


@dataclass(frozen=True)
class References:
    """Per record name, the published makespans a gap is measured against: the CPR value
    (every size has one) and the best known (the smallest of any solution file: at 512 x 16
    the MS solver's, which proved several CPR values improvable)."""

    cpr: dict[str, float]
    best_known: dict[str, float]


def references(data: Path, sizes: Iterable[str]) -> References:
    """The solution files' makespans of every instance of ``sizes``."""
    cpr: dict[str, float] = {}
    best: dict[str, float] = {}
    for size in sizes:
        for solution in hcsp.solution_files(data / DIRECTORY / size):
            name = record_name(size, solution.instance)
            best[name] = min(solution.makespan, best.get(name, solution.makespan))
            if solution.method == REFERENCE_METHOD:
                cpr[name] = min(solution.makespan, cpr.get(name, solution.makespan))
    return References(cpr, best)


def sizes_in(names: Sequence[str]) -> list[str]:
    """The sizes of these record names, smallest first."""
    return sorted({size_of(name) for name in names}, key=_cells)


def _cells(size: str) -> tuple[int, str]:
    tasks, _, machines = size.partition("x")
    return int(tasks) * int(machines), size
