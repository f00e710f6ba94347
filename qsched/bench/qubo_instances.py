"""The QUBO benchmark's instances and its per-sample metrics (`qsched bench qubo`).

An instance is the QUBO the ``qaoa`` solver builds for a generated problem
(`qsched.formats.generate`): the `TaskAllocation` program at the repaired Min-min
start's DVFS levels, penalized with the penalty calibrated on that start
(`TaskAllocation.to_qubo`, the QUBO `solvers.decode.encode` gives the solvers).
Problems are searched in a fixed order (seed, then shape) until the QUBO has
exactly the requested number of qubits, so a size and a seed always name the
same instances. Qubits are renumbered as the XY-mixer engine wants them
(`engine.reorder_free_first`: slack and machine-on qubits first, then the
one-hot rows), so the instance can be handed to any engine, CPU or GPU, as is;
every sampler sees the same QUBO.

Raw-sample feasibility is judged as `solvers.qaoa`'s decode judges it: a
sample is feasible when every task's row is one-hot and the assignment it
names meets the capacity and power-cap rows (machine-on bits follow from the
assignment, not from the sampled bits). The rows are kept as plain arrays
(`Instance.feasible`), so a script that reads the ``.npz`` (`save`) with numpy
alone can judge samples the same way. The builders import the problem model and
qiskit-optimization only when called, so a GPU machine with numpy, scipy and numba
alone can load saved instances and sample them (`benchmarks/qubo_gpu.py`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qsched.solvers.engine import Qubo, cost_diagonal, reorder_free_first

if TYPE_CHECKING:
    from qsched.model.problem import Problem
    from qsched.solvers.allocation import TaskAllocation

#: Machines per generated problem that the instance search tries (tasks follow from the size).
MACHINES = (2, 3, 4)
#: Problem seeds searched for instances of one width before giving up (widths 8 to 32 are
#: found within the first few seeds).
SEARCH_SEEDS = 200
#: The narrowest QUBO a generated problem gives: 2 tasks on 2 machines.
MIN_QUBITS = 4
#: Widest QUBO whose ground state is found here by brute force over all 2^n energies.
BRUTE_FORCE_QUBITS = 24
#: Energies this close to the minimum (relative to the energy span) count as ground states.
GROUND_TOLERANCE = 1e-9
#: Target success probability of the time-to-solution metric.
TTS_TARGET = 0.99


@dataclass(frozen=True, eq=False)
class Instance:
    """One benchmark QUBO in the engine's qubit order, with what judges its samples.

    ``cell_qubits[t, m]``: the qubit of "task t on machine m"; ``le_x`` (R, T, M) and
    ``le_on`` (R, M): the integer inequality rows (capacity, power cap) over the assignment
    and the machines it switches on, ``<= le_rhs``. ``ground_states``: every basis state at
    the minimum energy (empty, and the energies NaN, where the QUBO is too wide to brute-force).
    """

    name: str
    problem_seed: int
    linear: np.ndarray
    quadratic: np.ndarray
    constant: float
    groups: np.ndarray
    initial: np.ndarray
    cell_qubits: np.ndarray
    le_x: np.ndarray
    le_on: np.ndarray
    le_rhs: np.ndarray
    ground_energy: float
    max_energy: float
    ground_states: np.ndarray

    @property
    def qubo(self) -> Qubo:
        return Qubo(self.linear, self.quadratic, self.constant)

    @property
    def qubits(self) -> int:
        return int(self.linear.size)

    @property
    def tasks(self) -> int:
        return int(self.cell_qubits.shape[0])

    @property
    def machines(self) -> int:
        return int(self.cell_qubits.shape[1])

    def group_lists(self) -> list[list[int]]:
        """The one-hot groups as the engines take them."""
        return [[int(q) for q in group] for group in self.groups]

    def energies(self, states: np.ndarray) -> np.ndarray:
        """The QUBO's value at each basis state (integers, qubit i = bit i)."""
        bits = bits_of(states, self.qubits).astype(float)
        return np.asarray(
            self.constant
            + bits @ self.linear
            + np.einsum("ki,ij,kj->k", bits, self.quadratic, bits)
        )

    def feasible(self, states: np.ndarray) -> np.ndarray:
        """Whether each basis state names an assignment that meets the program (module doc)."""
        chosen = bits_of(states, self.qubits)[:, self.cell_qubits]  # (N, T, M)
        one_hot = np.all(chosen.sum(axis=2) == 1, axis=1)
        load = np.einsum("rtm,ntm->nr", self.le_x, chosen) + chosen.any(axis=1) @ self.le_on.T
        return np.asarray(one_hot & np.all(load <= self.le_rhs, axis=1))

    def start_is_optimal(self) -> bool:
        """Whether the warm start's assignment is already a ground state's (the XY mixer then
        starts on the answer, up to the slack bits)."""
        cells = self.cell_qubits.ravel()
        ground = bits_of(self.ground_states, self.qubits)[:, cells]
        return bool(np.any(np.all(ground == self.initial[cells], axis=1)))

    def save(self, directory: Path) -> Path:
        """The instance as ``DIRECTORY/NAME.npz``: plain arrays and scalars, numpy only."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.name}.npz"
        arrays: dict[str, Any] = {f.name: np.asarray(getattr(self, f.name)) for f in fields(self)}
        np.savez(path, **arrays)
        return path

    @classmethod
    def load(cls, path: Path) -> Instance:
        with np.load(path) as data:
            values: dict[str, Any] = {f.name: data[f.name] for f in fields(cls)}
        for name in ("name",):
            values[name] = str(values[name])
        for name in ("constant", "ground_energy", "max_energy"):
            values[name] = float(values[name])
        values["problem_seed"] = int(values["problem_seed"])
        return cls(**values)


def bits_of(states: np.ndarray, qubits: int) -> np.ndarray:
    """(N, qubits) bits of basis states given as integers."""
    return (np.asarray(states, dtype=np.int64)[:, None] >> np.arange(qubits)) & 1


def encoded(problem: Problem) -> tuple[TaskAllocation, np.ndarray, Qubo]:
    """The ``qaoa`` solver's program, start assignment and QUBO for ``problem``."""
    from qsched.model.solver import Budget
    from qsched.search.construct import repaired_start
    from qsched.search.tracker import SolveTracker
    from qsched.solvers.allocation import TaskAllocation

    start = repaired_start(SolveTracker(problem, Budget()))
    allocation = TaskAllocation(problem, levels=start.levels, incumbent=start.assignment)
    return allocation, start.assignment, allocation.to_qubo().arrays


def build(problem: Problem, name: str, problem_seed: int, brute_force: bool = True) -> Instance:
    """The instance of ``problem`` (free qubits first), its rows, and its ground states."""
    allocation, start, program_qubo = encoded(problem)
    qubo, groups, initial, order = reorder_free_first(
        program_qubo,
        allocation.one_hot_groups(),
        allocation.start_state(start, program_qubo.num_qubits),
    )
    position = np.empty_like(order)
    position[order] = np.arange(order.size)
    tasks, machines = allocation.num_tasks, allocation.num_machines
    le_x, le_on, le_rhs = inequality_rows(allocation)
    ground, top, states = ground_truth(qubo) if brute_force else (math.nan, math.nan, [])
    return Instance(
        name=name,
        problem_seed=problem_seed,
        linear=qubo.linear,
        quadratic=qubo.quadratic,
        constant=float(qubo.constant),
        groups=np.asarray(groups, dtype=np.int64),
        initial=np.asarray(initial, dtype=np.int64),
        cell_qubits=position[: allocation.cells].reshape(tasks, machines),
        le_x=le_x,
        le_on=le_on,
        le_rhs=le_rhs,
        ground_energy=ground,
        max_energy=top,
        ground_states=np.asarray(states, dtype=np.int64),
    )


def inequality_rows(allocation: TaskAllocation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The program's ``<=`` rows split into their assignment part (R, T, M), their machine-on
    part (R, M) and right-hand sides (the equalities are the one-hot rows, checked apart)."""
    rows = [row for _, row in allocation.rows if not row.equality]
    cells, machines = allocation.cells, allocation.num_machines
    le_x = np.zeros((len(rows), cells), dtype=np.int64)
    le_on = np.zeros((len(rows), machines), dtype=np.int64)
    for r, row in enumerate(rows):
        on_part = row.variables >= cells
        le_x[r, row.variables[~on_part]] = row.coefficients[~on_part]
        le_on[r, row.variables[on_part] - cells] = row.coefficients[on_part]
    return (
        le_x.reshape(len(rows), allocation.num_tasks, machines),
        le_on,
        np.array([row.rhs for row in rows], dtype=np.int64),
    )


def ground_truth(qubo: Qubo) -> tuple[float, float, np.ndarray]:
    """(lowest energy, highest energy, every state at the lowest) over all 2^n states."""
    diagonal = cost_diagonal(qubo)
    low, high = float(diagonal.min()), float(diagonal.max())
    tolerance = GROUND_TOLERANCE * max(high - low, 1.0)
    return low, high, np.flatnonzero(diagonal <= low + tolerance)


def candidates(qubits: int, seed: int) -> Iterator[tuple[int, int, int]]:
    """(tasks, machines, problem seed) in the search order: seed by seed from ``seed`` for
    `SEARCH_SEEDS` seeds, and within a seed every shape with at most ``qubits`` cells (a QUBO
    has one qubit per cell, plus machine-on and slack qubits), fewest machines first."""
    for problem_seed in range(seed, seed + SEARCH_SEEDS):
        for machines in MACHINES:
            for tasks in range(2, qubits // machines + 1):
                yield tasks, machines, problem_seed


def find_instances(qubits: int, how_many: int, seed: int = 0) -> list[Instance]:
    """The first ``how_many`` generated problems whose QUBO has exactly ``qubits`` qubits."""
    from qsched.formats.generate import generate
    from qsched.model.problem import Problem

    found: list[Instance] = []
    for tasks, machines, problem_seed in candidates(qubits, seed):
        problem = Problem.from_message(generate(tasks, machines, problem_seed))
        if encoded_qubits(problem) != qubits:
            continue
        name = f"q{qubits}-gen-{tasks}x{machines}-s{problem_seed}"
        found.append(build(problem, name, problem_seed, qubits <= BRUTE_FORCE_QUBITS))
        if len(found) == how_many:
            return found
    raise ValueError(
        f"--qubits {qubits}: {len(found)} of {how_many} generated problems found whose QUBO has "
        f"{qubits} qubits in {SEARCH_SEEDS} seeds from {seed} (the smallest QUBO has "
        f"{MIN_QUBITS})"
    )


def encoded_qubits(problem: Problem) -> int:
    """The QUBO's width, without building it."""
    from qsched.model.solver import Budget
    from qsched.search.construct import repaired_start
    from qsched.search.tracker import SolveTracker
    from qsched.solvers.allocation import TaskAllocation

    start = repaired_start(SolveTracker(problem, Budget()))
    return int(TaskAllocation(problem, levels=start.levels, incumbent=start.assignment).num_qubits)


def tts99(probability: float) -> float:
    """Samples needed to see a ground state with 99 % confidence, ceil(ln 0.01 / ln(1 - p)):
    1 when p >= 0.99, infinite when p = 0."""
    if probability >= TTS_TARGET:
        return 1.0
    if probability <= 0:
        return math.inf
    return float(math.ceil(math.log(1 - TTS_TARGET) / math.log1p(-probability)))


def approximation_ratio(mean_energy: float, ground: float, highest: float) -> float:
    """(E_max - <E>) / (E_max - E_min): 1 at the ground state, 0 at the worst state, for a
    minimization whose energies may be negative (E_max, E_min over all 2^n states)."""
    span = highest - ground
    return (highest - mean_energy) / span if span > 0 else 1.0


def relative_gap(energy: float, ground: float) -> float:
    """(E - E_min) / |E_min|: how far above the optimum, in units of it (the QUBOs are scaled so
    that the warm start scores about 1)."""
    return (energy - ground) / abs(ground) if ground else energy - ground


def sample_metrics(instance: Instance, counts: dict[int, int]) -> dict[str, Any]:
    """What the samples (basis state -> count) show: mean and best energy, the share at a ground
    state, the feasible share, and the approximation ratio of their mean (None and NaN where
    the ground states are unknown)."""
    states = np.fromiter(counts, dtype=np.int64, count=len(counts))
    weights = np.array([counts[int(z)] for z in states], dtype=float)
    shots = weights.sum()
    energies = instance.energies(states)
    mean = float(weights @ energies / shots)
    known = instance.ground_states.size > 0
    ground = np.isin(states, instance.ground_states)
    return {
        "shots": int(shots),
        "distinct": int(states.size),
        "mean_energy": mean,
        "best_energy": float(energies.min()),
        "approx_ratio": approximation_ratio(mean, instance.ground_energy, instance.max_energy),
        "mean_gap": relative_gap(mean, instance.ground_energy),
        "p_ground_sampled": float(weights[ground].sum() / shots) if known else None,
        "feasible_share": float(weights[instance.feasible(states)].sum() / shots),
    }
