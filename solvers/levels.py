"""DVFS level selection for a fixed assignment, as a quadratic program (the VQE Hamiltonian).

With the assignment fixed, each machine's busy time b[m, l], the energy of its
work above idle e[m, l], its tasks' lateness (EDF order) and its draw at each
level l are known numbers, and the evaluator's objective becomes exactly

    energy_weight * (sum_m e[m, l_m] + C * idle watts of the powered machines)
        + makespan_weight * C

with C = max_m b[m, l_m] (a machine's energy is its work above idle plus its
idle draw until the makespan). `LevelSelection` writes that as a program in
binary variables:

- ``y{m}_{l}``: machine m runs at level l (one-hot per machine);
- ``z{k}``: the makespan reaches the k-th distinct busy time above the
  lower bound, a thermometer code: ``y{m}_{l} <= z{k(m, l)}`` and
  ``z{k+1} <= z{k}`` (both slack-free penalties), so at the optimum
  C = lower bound + sum_k (step k) z{k} is the largest busy time, exactly;
- deadlines: a level at which machine m's tasks are late pays, per unit of
  the evaluator's lateness measure, more than any objective difference, so
  feasible choices come first as the evaluator orders them;
- the power cap: ``sum_m y{m}_{l} watts[m, l] <= cap`` where it can bind and
  can be met, ``watts`` a machine's highest task draw at that level (the
  evaluator's peak when tasks share a load; conservative otherwise), in
  whole units of the headroom / s rounded up, s the coarsest scale at
  which the rounded row accepts exactly the choices the cap accepts.

Machines without tasks that are off, machines with one level, and machines
outside ``machines`` keep their levels and enter as constants. The objective
is in units of the current levels' cost.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
from qiskit_optimization import QuadraticProgram

from qsched.model.evaluate import TOLERANCE
from qsched.model.problem import Problem
from qsched.solvers.allocation import CONSTRAINT_STEPS
from qsched.solvers.qubo import PENALTY_MARGIN, QuboForm, integer_row, to_qubo

#: Most level choices on which the power row's rounding is checked to be exact.
EXACT_CHECK_LIMIT = 4096

#: A machine's index, as Python or NumPy gives it (`LevelSelection.chosen` is an array).
MachineIndex = int | np.integer[Any]


class LevelSelection:
    """Choose DVFS levels for ``machines`` (default: all that matter) of a fixed ``assignment``,
    starting from ``levels`` (default: fastest)."""

    def __init__(
        self,
        problem: Problem,
        assignment: npt.NDArray[np.int64],
        levels: npt.NDArray[np.int64] | None = None,
        machines: Sequence[int] | None = None,
    ):
        self.problem = problem
        self.assignment = np.asarray(assignment, dtype=np.int64)
        self.levels = (
            problem.fastest_levels.copy()
            if levels is None
            else np.asarray(levels, dtype=np.int64).copy()
        )
        used = np.bincount(self.assignment, minlength=problem.num_machines) > 0
        self.powered = used | problem.idle_machines_on
        allowed = (
            np.ones(problem.num_machines, dtype=bool)
            if machines is None
            else np.isin(np.arange(problem.num_machines), machines)
        )
        self.chosen = np.flatnonzero(allowed & self.powered & (problem.level_count > 1))
        width = problem.frequency.shape[1]
        self.busy = np.zeros((problem.num_machines, width))
        self.energy = np.zeros((problem.num_machines, width))
        self.lateness = np.zeros((problem.num_machines, width))
        self.watts = np.zeros((problem.num_machines, width))
        for m in range(problem.num_machines):
            for level in range(problem.level_count[m]):
                self._machine_at(m, level)

    def _machine_at(self, machine: int, level: int) -> None:
        """Busy time, energy above idle, lateness (in the evaluator's units) and draw of one machine
        at one level."""
        problem = self.problem
        if not self.powered[machine]:
            return
        tasks = np.flatnonzero(self.assignment == machine)
        tasks = tasks[np.argsort(problem.edf_rank[tasks])]
        runtime = problem.etc[tasks, machine] / problem.frequency[machine, level]
        finish = np.cumsum(runtime)
        watts = problem.task_watts(tasks, machine, level)
        late = finish > problem.deadline[tasks] * (1 + TOLERANCE)
        self.busy[machine, level] = finish[-1] if tasks.size else 0.0
        self.energy[machine, level] = float(runtime @ (watts - problem.idle_watts[machine]))
        self.lateness[machine, level] = (
            float(np.sum(finish[late] - problem.deadline[tasks][late])) / problem.mean_etc
        )
        self.watts[machine, level] = watts.max() if tasks.size else problem.idle_watts[machine]

    def variable(self, machine: MachineIndex, level: int) -> str:
        return f"y{machine}_{level}"

    def _options(self, machine: MachineIndex) -> range:
        return range(self.problem.level_count[machine])

    @cached_property
    def fixed(self) -> npt.NDArray[np.int64]:
        """Powered machines whose level is not chosen here."""
        return np.setdiff1d(np.flatnonzero(self.powered), self.chosen)

    @cached_property
    def makespan_floor(self) -> float:
        """The makespan no choice goes below: the fixed machines' busy times and each chosen
        machine's fastest."""
        fixed = self.busy[self.fixed, self.levels[self.fixed]]
        fastest = [min(self.busy[m, level] for level in self._options(m)) for m in self.chosen]
        return float(max([0.0, *fixed, *fastest]))

    @cached_property
    def thresholds(self) -> npt.NDArray[np.float64]:
        """The distinct busy times above the floor, ascending: the makespan's possible values."""
        values = {self.busy[m, level] for m in self.chosen for level in self._options(m)}
        return np.array(sorted(v for v in values if v > self.makespan_floor))

    @cached_property
    def _alpha(self) -> float:
        """Objective per second of makespan: idle power of the powered machines, plus the makespan
        weight."""
        return float(
            self.problem.energy_weight * self.problem.idle_watts[self.powered].sum()
            + self.problem.makespan_weight
        )

    def _cost(self, levels: npt.NDArray[np.int64]) -> float:
        """The unscaled objective at ``levels`` (penalties aside)."""
        powered = np.flatnonzero(self.powered)
        makespan = self.busy[powered, levels[powered]].max(initial=0.0)
        return float(
            self.problem.energy_weight * self.energy[powered, levels[powered]].sum()
            + self._alpha * makespan
        )

    @cached_property
    def scale(self) -> float:
        value = self._cost(self.levels)
        return value if value > 0 else 1.0

    @cached_property
    def power_row(self) -> tuple[dict[str, int], int] | None:
        """The cap as an integer row over the level variables, when it can bind and be met.

        The scale is the coarsest in `CONSTRAINT_STEPS` at which the rounded row
        accepts exactly the level choices the real cap accepts (checked on every
        choice when there are at most `EXACT_CHECK_LIMIT`; else the finest).
        """
        problem = self.problem
        if not np.isfinite(problem.power_cap) or not problem.models_power or not self.chosen.size:
            return None
        headroom = problem.power_cap - self.watts[self.fixed, self.levels[self.fixed]].sum()
        options = [self.watts[m, : problem.level_count[m]] for m in self.chosen]
        if sum(w.max() for w in options) <= headroom or sum(w.min() for w in options) > headroom:
            return None
        pairs = [(int(m), level) for m in self.chosen for level in self._options(m)]
        watts = np.array([self.watts[m, level] for m, level in pairs])
        checked = (
            CONSTRAINT_STEPS
            if np.prod([w.size for w in options]) <= EXACT_CHECK_LIMIT
            else CONSTRAINT_STEPS[-1:]
        )
        choices = (
            list(itertools.product(*(range(w.size) for w in options))) if len(checked) > 1 else []
        )
        real = [
            sum(w[level] for w, level in zip(options, choice, strict=True))
            <= headroom * (1 + TOLERANCE)
            for choice in choices
        ]
        for steps in checked:
            row, rhs = integer_row(watts, headroom, steps)
            rounded = [row[self._pair_indices(pairs, choice)].sum() <= rhs for choice in choices]
            if rounded == real or steps == checked[-1]:
                return {
                    self.variable(m, level): int(c)
                    for (m, level), c in zip(pairs, row, strict=True)
                    if c
                }, rhs
        return None

    def _pair_indices(self, pairs: list[tuple[int, int]], levels: tuple[int, ...]) -> list[int]:
        """Positions in ``pairs`` of one level per chosen machine."""
        return [
            pairs.index((int(m), int(level))) for m, level in zip(self.chosen, levels, strict=True)
        ]

    def to_quadratic_program(self) -> QuadraticProgram:
        program = QuadraticProgram("dvfs-levels")
        for m in self.chosen:
            for level in self._options(m):
                program.binary_var(self.variable(m, level))
        for k in range(self.thresholds.size):
            program.binary_var(f"z{k}")

        fixed = self.fixed
        constant = (
            self.problem.energy_weight * self.energy[fixed, self.levels[fixed]].sum()
            + self._alpha * self.makespan_floor
        )
        linear = {
            self.variable(m, level): self.problem.energy_weight * self.energy[m, level] / self.scale
            for m in self.chosen
            for level in self._options(m)
        }
        steps = np.diff(np.concatenate(([self.makespan_floor], self.thresholds)))
        linear.update({f"z{k}": self._alpha * step / self.scale for k, step in enumerate(steps)})
        lateness_weight = self._lateness_weight(linear)
        for m in self.chosen:
            for level in self._options(m):
                linear[self.variable(m, level)] += lateness_weight * self.lateness[m, level]
        program.minimize(constant=constant / self.scale, linear=linear)

        for m in self.chosen:
            program.linear_constraint(
                {self.variable(m, level): 1 for level in self._options(m)},
                "==",
                1,
                name=f"machine{m}",
            )
            for level in self._options(m):
                if self.busy[m, level] > self.makespan_floor:
                    k = int(np.searchsorted(self.thresholds, self.busy[m, level]))
                    program.linear_constraint(
                        {self.variable(m, level): 1, f"z{k}": -1}, "<=", 0, name=f"reach{m}_{level}"
                    )
        for k in range(1, self.thresholds.size):
            program.linear_constraint({f"z{k}": 1, f"z{k - 1}": -1}, "<=", 0, name=f"order{k}")
        if self.power_row is not None:
            row, rhs = self.power_row
            program.linear_constraint(row, "<=", rhs, name="power_cap")
        return program

    def _lateness_weight(self, linear: dict[str, float]) -> float:
        """Per unit of lateness: more than the objective can differ between any two choices, divided
        by the smallest lateness any choice has, so no on-time gain pays for being late."""
        late = self.lateness[self.chosen][self.lateness[self.chosen] > 0]
        if not late.size:
            return 0.0
        span = sum(v for v in linear.values() if v > 0)
        return float(span * (1 + PENALTY_MARGIN) / late.min())

    def solution(self, levels: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """The program's variables at ``levels`` (the thermometer set to the resulting makespan)."""
        y = [float(levels[m] == level) for m in self.chosen for level in self._options(m)]
        makespan = max(self.busy[m, levels[m]] for m in self.chosen) if self.chosen.size else 0.0
        z = (self.thresholds <= makespan).astype(float)
        return np.concatenate([y, z])

    def to_qubo(self) -> QuboForm:
        program = self.to_quadratic_program()
        start = self.solution(self.levels)
        return to_qubo(
            program, upper=program.objective.evaluate(start) if program.is_feasible(start) else None
        )

    def interpret(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """All machines' levels: the chosen ones from one-hot rows (the current level where a row is
        not one-hot)."""
        levels = self.levels.copy()
        position = 0
        for m in self.chosen:
            row = np.round(np.asarray(x)[position : position + self.problem.level_count[m]])
            if row.sum() == 1:
                levels[m] = int(row.argmax())
            position += self.problem.level_count[m]
        return levels
