"""HCSP ETC instances and their solution files (see datasets/hcsp/README.md).

An instance is a ``T M`` header (Braun et al.'s 512 x 16 files add an unused ``0``) on the
first line, then T*M expected times to compute, task-major; the file may be xz- or
gzip-compressed (``.xz``, ``.gz``), as the larger published instances are kept. It becomes an
`AllocationProblem` whose tasks carry explicit ETC rows and no power model: the "ETC given,
makespan only" case. `braun_etc` draws new instances of any size by the same (range-based)
method.
"""

from __future__ import annotations

import gzip
import io
import lzma
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qsched.v1 import problem_pb2

#: What an instance file is, for error messages that say what was expected.
ETC_FORM = (
    "an ETC instance (a `T M` or `T M 0` first line, then T*M numbers >= 0, task-major; "
    "plain, .xz or .gz)"
)
#: The suffixes of compressed instance files (xz, gzip).
COMPRESSIONS = (".xz", ".gz")
#: What a damaged compressed file raises while it is read.
_DECOMPRESSION_ERRORS = (lzma.LZMAError, gzip.BadGzipFile, zlib.error, EOFError)
#: ``<instance>_[METHOD_]<makespan>.sol``, the makespan with a decimal comma.
_SOLUTION_NAME = re.compile(
    r"^(?P<instance>.+?)_(?:(?P<method>[A-Z][A-Z0-9]*)_)?(?P<makespan>\d+(?:,\d+)?)\.sol$"
)


def instance_name(path: Path) -> str:
    """The instance a file holds: its name without a compression suffix (``A.u_c_hihi.xz`` is
    ``A.u_c_hihi``, ``u_c_hihi.0`` stays), as its solution files name it."""
    path = Path(path)
    return path.name.removesuffix(path.suffix) if path.suffix in COMPRESSIONS else path.name


def instance_path(directory: Path, name: str) -> Path:
    """The file in ``directory`` holding instance ``name``: plain or compressed."""
    candidates = [Path(directory) / f"{name}{suffix}" for suffix in ("", *COMPRESSIONS)]
    found = next((path for path in candidates if path.is_file()), None)
    if found is None:
        raise FileNotFoundError(f"{Path(directory) / name}: no such instance (plain, .xz or .gz)")
    return found


def _open(path: Path) -> io.BufferedIOBase:
    """The file, decompressed by its suffix as it is read."""
    if path.suffix == ".xz":
        return lzma.open(path, "rb")
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


def read_bytes(path: Path) -> bytes:
    """The file's contents, decompressed by its suffix; a damaged compressed file is a
    `ValueError` naming it."""
    path = Path(path)
    try:
        with _open(path) as handle:
            return handle.read()
    except _DECOMPRESSION_ERRORS as error:
        raise ValueError(f"{path}: not a readable {path.suffix} file ({error})") from None


def parse_header(line: bytes) -> tuple[int, int]:
    """Tasks and machines of a ``T M`` or ``T M 0`` first line; a `ValueError` saying what is
    wrong with any other line."""
    parts = line.split()
    shown = line.strip()[:60].decode("utf-8", "replace")
    if len(parts) not in (2, 3) or not all(part.isdigit() for part in parts):
        raise ValueError(f"first line {shown!r} is not a `T M` or `T M 0` header")
    tasks, machines = int(parts[0]), int(parts[1])
    if tasks == 0 or machines == 0:
        raise ValueError(f"header {shown!r} gives {tasks}x{machines}: both must be at least 1")
    return tasks, machines


def is_etc_file(path: Path) -> bool:
    """True if the file (plain or compressed) starts with a ``T M`` or ``T M 0`` header."""
    try:
        with _open(Path(path)) as handle:
            parse_header(handle.readline(256))
    except (ValueError, *_DECOMPRESSION_ERRORS):
        return False
    return True


def parse_etc(data: bytes) -> np.ndarray:
    """The (T, M) ETC matrix of an instance's (decompressed) contents; a `ValueError` saying
    what is wrong otherwise. The numbers are converted by NumPy in one call: a 4,096 x 128
    instance has 524,288 of them."""
    header, _, body = data.partition(b"\n")
    tasks, machines = parse_header(header)
    tokens = body.split()
    if len(tokens) != tasks * machines:
        raise ValueError(
            f"header says {tasks}x{machines} ({tasks * machines} values) "
            f"but the file has {len(tokens)} values"
        )
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError as error:
        index = next((i for i, token in enumerate(tokens) if not _is_number(token)), None)
        where = f"{_where(index, machines)} is {_shown(tokens[index])}" if index is not None else ""
        raise ValueError(f"{where or error}, not a number") from None
    bad = np.flatnonzero(~(np.isfinite(values) & (values >= 0)))
    if bad.size:
        index = int(bad[0])
        raise ValueError(
            f"{_where(index, machines)} is {_shown(tokens[index])}: "
            "an ETC must be a finite number >= 0"
        )
    return values.reshape(tasks, machines)


def _is_number(token: bytes) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _where(index: int, machines: int) -> str:
    """Value ``index`` (0-based, after the header) as the task and machine it is for."""
    return f"value {index + 1} (task {index // machines}, machine {index % machines})"


def _shown(token: bytes) -> str:
    return repr(token[:30].decode("utf-8", "replace"))


def read_etc(path: Path) -> np.ndarray:
    """The (T, M) ETC matrix of an instance file (plain, .xz or .gz); a `ValueError` naming
    the file and what is wrong with it otherwise."""
    path = Path(path)
    data = read_bytes(path)
    try:
        return parse_etc(data)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def etc_problem(etc: np.ndarray, name: str) -> problem_pb2.AllocationProblem:
    """An ETC matrix as a makespan-only problem: tasks t0.., machines m0.."""
    machine_ids = [f"m{j}" for j in range(etc.shape[1])]
    message = problem_pb2.AllocationProblem(
        name=name, objective=problem_pb2.Objective(makespan_weight=1.0)
    )
    message.machines.extend(problem_pb2.Machine(id=m) for m in machine_ids)
    message.tasks.extend(
        problem_pb2.Task(id=f"t{i}", etc=dict(zip(machine_ids, row.tolist(), strict=True)))
        for i, row in enumerate(etc)
    )
    return message


#: Braun et al.'s heterogeneity ranges: ETC = U(1, task range) x U(1, machine range).
TASK_RANGES = {"hi": 3000.0, "lo": 100.0}
MACHINE_RANGES = {"hi": 1000.0, "lo": 10.0}
CONSISTENCIES = ("c", "i", "s")


def braun_etc(
    tasks: int,
    machines: int,
    seed: int,
    *,
    consistency: str = "i",
    task_heterogeneity: str = "hi",
    machine_heterogeneity: str = "hi",
) -> np.ndarray:
    """A (T, M) ETC matrix drawn as Braun et al. (2001) did: a baseline per task from U(1,
    task range), times U(1, machine range) per machine. Consistent (``c``): every row
    sorted, so a faster machine is faster for every task; semi-consistent (``s``): the
    even columns sorted within each row; inconsistent (``i``): as drawn."""
    if consistency not in CONSISTENCIES:
        raise ValueError(f"consistency must be one of {', '.join(CONSISTENCIES)}")
    rng = np.random.default_rng(seed)
    baseline = rng.uniform(1.0, TASK_RANGES[task_heterogeneity], size=(tasks, 1))
    etc = baseline * rng.uniform(1.0, MACHINE_RANGES[machine_heterogeneity], (tasks, machines))
    if consistency == "c":
        etc.sort(axis=1)
    elif consistency == "s":
        etc[:, ::2] = np.sort(etc[:, ::2], axis=1)
    return etc


def read_problem(path: Path) -> problem_pb2.AllocationProblem:
    """An instance file as a problem named after the instance (`instance_name`)."""
    return etc_problem(read_etc(path), instance_name(Path(path)))


def read_solution(path: Path) -> np.ndarray:
    """The zero-based machine index per task stored in a ``.sol`` file."""
    return np.loadtxt(path, dtype=np.int64).reshape(-1)


@dataclass(frozen=True)
class SolutionFile:
    """A ``<instance>_[METHOD_]<makespan>.sol`` file (the makespan written with a decimal comma)."""

    path: Path
    instance: str
    method: str
    makespan: float


def solution_files(directory: Path) -> list[SolutionFile]:
    found = []
    for path in sorted(Path(directory).glob("*.sol")):
        match = _SOLUTION_NAME.match(path.name)
        if match:
            makespan = float(match["makespan"].replace(",", "."))
            found.append(SolutionFile(path, match["instance"], match["method"] or "", makespan))
    return found


def best_known_makespans(directory: Path) -> dict[str, float]:
    """Instance name -> smallest makespan stated among its solution files."""
    best: dict[str, float] = {}
    for solution in solution_files(directory):
        best[solution.instance] = min(
            solution.makespan, best.get(solution.instance, solution.makespan)
        )
    return best
