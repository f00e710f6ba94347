"""Braun et al. (2001) ETC instances and their solution files (see datasets/hcsp/README.md).

An instance is ``T M 0`` on the first line, then T*M expected times to
compute, task-major. It becomes an `AllocationProblem` whose tasks carry
explicit ETC rows and no power model: the "ETC given, makespan only" case.
`braun_etc` draws new instances of any size by the same (range-based) method.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qsched.v1 import problem_pb2

_SOLUTION_NAME = re.compile(
    r"^(?P<instance>.+?\.\d+)_(?:(?P<method>[A-Z]+)_)?(?P<makespan>\d+(?:,\d+)?)\.sol$"
)


def is_etc_file(path: Path) -> bool:
    """True if the file starts with the ``T M 0`` header of the Braun format."""
    with open(path, "rb") as handle:
        header = handle.readline().split()
    return len(header) == 3 and all(part.isdigit() for part in header)


def read_etc(path: Path) -> np.ndarray:
    """The (T, M) ETC matrix of an instance file."""
    with open(path) as handle:
        tasks, machines, _ = (int(part) for part in handle.readline().split())
        values = np.loadtxt(handle, dtype=float)
    if values.size != tasks * machines:
        raise ValueError(
            f"{path}: header says {tasks}x{machines} but the file has {values.size} values"
        )
    return values.reshape(tasks, machines)


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
    path = Path(path)
    return etc_problem(read_etc(path), path.name)


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
