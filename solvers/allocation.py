"""Task allocation as a quadratic program and a QUBO (qiskit-optimization application style).

`TaskAllocation(problem, levels).to_quadratic_program()` builds, for DVFS
levels held fixed (the VQE stage chooses them afterwards):

- binary ``x{t}_{m}``: task t runs on machine m, with one-hot rows
  ``sum_m x{t}_{m} = 1`` (constraint ``task{t}``);
- capacity ``sum_t demand[t, r] x{t}_{m} <= capacity[m, r]`` for every machine
  and resource the tasks could overfill, in whole units of capacity / s
  (demands rounded up, so an assignment that meets the integer row fits);
- the power cap, where running every machine at its highest draw would
  break it: binary ``on{m}`` with ``x{t}_{m} <= on{m}`` and
  ``sum_m on{m} watts[m] <= cap`` (machines kept on while idle counted as
  always drawing idle power), ``watts[m]`` the highest draw of any task on m,
  in units of the cap's headroom / s (rounded up). With every task at the
  same load this is the evaluator's peak exactly; otherwise it is conservative.

Each row takes the coarsest s in `CONSTRAINT_STEPS` (7, 15, 31, 63: a 3- to
6-bit slack) at which the incumbent still meets it, so the
incumbent is a feasible point of the program. Where rounding up breaks
the incumbent even at 63 steps (demands that add up to exactly the
capacity), the capacity row's bound is raised to the incumbent's own
rounded load, which is known to fit; a power row the incumbent breaks even
at 63 steps (mixed loads make it conservative) is left out, and the cap is
left to the repair and VQE stages.

The objective, in units of ``scale`` (the incumbent's cost, so a
value below 1 beats it), is

    energy_weight * sum_{t,m} x{t}_{m} e[t, m]  +  alpha * sum_m L_m(x)^2 / W

where e[t, m] is the task's energy above the machine's idle draw,
``L_m = sum_t runtime[t, m] x{t}_{m}`` is machine m's busy time, W the total
runtime of the tasks on their average machine, and ``alpha = energy_weight *
(idle watts of all machines) + makespan_weight``. The first term is the
energy of the work exactly; the second stands for the makespan, which is a
maximum and not quadratic. It is a load-balancing term: it equals the
makespan when the loads are equal and W is the total work, and it falls as
loads even out, as the makespan does. It is a surrogate, not the makespan:
decoded schedules are scored by the one evaluator, and the local-search
polish works on the true objective. Idle power is charged as if every
machine is on for the whole makespan (exact when the problem keeps idle
machines on or every machine gets work). Deadlines depend on the order
within machines and are left to the decode, polish and VQE stages.

`to_qubo()` builds the QUBO with a penalty calibrated on the incumbent
straight from the arrays the program is made of (its objective and integer
rows; `qsched.solvers.qubo.penalty_qubo`, the one builder), without a
`QuadraticProgram`: the samplers need only the engine's arrays, and building
and converting a program costs more than solving a window of the hybrid.
`qiskit_qubo()` converts `to_quadratic_program()` with qiskit-optimization at
the same penalty, for qiskit users (the same QUBO up to rounding; a test
compares them), and `interpret(x)` maps a solution back to an assignment.
`objectives` and `meet_rows` score many assignments at once in the program's
terms.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from qsched.model.evaluate import over_capacity
from qsched.model.problem import Problem
from qsched.solvers.engine import Qubo
from qsched.solvers.qubo import (
    IntegerRow,
    PenaltyQubo,
    QuboForm,
    integer_row,
    penalty_qubo,
    to_qubo,
)

if TYPE_CHECKING:
    # Imported where a program is built (`to_quadratic_program`): the hybrid's windows use
    # only the arrays, and qiskit-optimization takes over a second to import.
    from qiskit_optimization import QuadraticProgram

#: Integer units per capacity or power-cap row, coarsest first: 2^b - 1 fits a b-bit slack.
CONSTRAINT_STEPS = (7, 15, 31, 63)


def incumbent_row(
    coefficients: np.ndarray, limit: float, chosen: np.ndarray
) -> tuple[np.ndarray, int] | None:
    """``coefficients @ x <= limit`` as an integer row (`integer_row`) at the coarsest scale in
    `CONSTRAINT_STEPS` that the incumbent (1 where ``chosen``) meets; None if it meets none."""
    for steps in CONSTRAINT_STEPS:
        row, rhs = integer_row(coefficients, limit, steps)
        if row[chosen].sum() <= rhs:
            return row, rhs
    return None


class TaskAllocation:
    """The assignment of ``problem``'s tasks to machines at fixed DVFS ``levels``.

    ``incumbent``: a schedule (machine per task) whose objective sets the
    scale and, when it meets the program's constraints, the penalty's upper
    bound; by default every task on its fastest machine. ``base_load``:
    seconds of work each machine already has from tasks outside the program
    (a subproblem of a larger schedule); it enters the load-balancing term.

    Variables are numbered as in the program: ``x{t}_{m}`` is ``t * M + m``, then
    ``on{m}`` (``T * M + m``) where the power cap binds.
    """

    def __init__(
        self,
        problem: Problem,
        levels: np.ndarray | None = None,
        incumbent: np.ndarray | None = None,
        base_load: np.ndarray | None = None,
    ):
        self.problem = problem
        self.levels = (
            problem.fastest_levels if levels is None else np.asarray(levels, dtype=np.int64)
        )
        tasks, machines = np.arange(problem.num_tasks), np.arange(problem.num_machines)
        frequency = problem.frequency[machines, self.levels]
        self.runtime = problem.etc / frequency
        watts = problem.task_watts(tasks[:, None], machines[None, :], self.levels[None, :])
        self.watts = watts
        self.dynamic_energy = self.runtime * (watts - problem.idle_watts)
        self.incumbent = (
            np.argmin(self.runtime, axis=1)
            if incumbent is None
            else np.asarray(incumbent, dtype=np.int64)
        )
        self.base_load = (
            np.zeros(problem.num_machines)
            if base_load is None
            else np.asarray(base_load, dtype=float)
        )

    @property
    def num_tasks(self) -> int:
        return self.problem.num_tasks

    @property
    def num_machines(self) -> int:
        return self.problem.num_machines

    @property
    def cells(self) -> int:
        """The x variables: one per task and machine."""
        return self.num_tasks * self.num_machines

    @property
    def num_variables(self) -> int:
        """The program's variables: x per task and machine, on per machine where the cap binds."""
        return self.cells + (self.num_machines if self.power_row is not None else 0)

    def variable(self, task: int, machine: int) -> str:
        return f"x{task}_{machine}"

    def _names(self) -> list[str]:
        """The program's variable names, in variable order."""
        names = [
            self.variable(t, m) for t in range(self.num_tasks) for m in range(self.num_machines)
        ]
        if self.power_row is not None:
            names += [f"on{m}" for m in range(self.num_machines)]
        return names

    @cached_property
    def scale(self) -> float:
        """The incumbent's unscaled objective (1 if that is 0)."""
        value = float(self._unscaled(self.incumbent[None, :])[0])
        return value if value > 0 else 1.0

    def _unscaled(self, assignments: np.ndarray) -> np.ndarray:
        """The objective before scaling, for each row of ``assignments`` (N, T)."""
        problem = self.problem
        loads = np.zeros((assignments.shape[0], self.num_machines))
        rows = np.arange(assignments.shape[0])
        for t in range(self.num_tasks):
            loads[rows, assignments[:, t]] += self.runtime[t, assignments[:, t]]
        loads += self.base_load
        energy = self.dynamic_energy[np.arange(self.num_tasks), assignments].sum(axis=1)
        balance = np.einsum("nm,nm->n", loads, loads)
        return np.asarray(problem.energy_weight * energy + self._alpha * balance / self._work)

    @cached_property
    def _alpha(self) -> float:
        return float(
            self.problem.energy_weight * self.problem.idle_watts.sum()
            + self.problem.makespan_weight
        )

    @cached_property
    def _work(self) -> float:
        return float(self.runtime.mean(axis=1).sum() + self.base_load.sum())

    def capped_resources(self) -> list[tuple[int, int]]:
        """(machine, resource) pairs that the tasks could overfill (the rows worth slack qubits)."""
        problem = self.problem
        if not problem.resources:
            return []
        total = problem.demand.sum(axis=0)
        return [
            (m, r)
            for m in range(self.num_machines)
            for r in range(len(problem.resources))
            if over_capacity(total[r], problem.capacity[m, r])
        ]

    @cached_property
    def power_row(self) -> tuple[np.ndarray, int] | None:
        """(integer draw per machine, integer headroom) when the cap can bind, else None.

        None as well when the cap cannot be met even with only the always-on
        machines (no assignment helps at these levels), and when the incumbent breaks the row.
        """
        problem = self.problem
        if not np.isfinite(problem.power_cap) or not problem.models_power:
            return None
        always = problem.idle_watts * problem.idle_machines_on
        peak = np.maximum(self.watts.max(axis=0), always)
        headroom = problem.power_cap - always.sum()
        if peak.sum() <= problem.power_cap or headroom <= 0:
            return None
        on = np.bincount(self.incumbent, minlength=self.num_machines) > 0
        return incumbent_row(peak - always, float(headroom), on)

    @cached_property
    def objective_arrays(self) -> Qubo:
        """The program's objective over its variables (module docstring), as the engine's
        arrays: per x{t}_{m} its energy and the load term's diagonal, per pair of tasks on a
        machine the load term's cross product, and the fixed load's square as the constant."""
        variables = self.num_variables
        weight = self._alpha / self._work / self.scale
        runtime = self.runtime
        linear = np.zeros(variables)
        linear[: self.cells] = (
            self.problem.energy_weight * self.dynamic_energy / self.scale
            + weight * runtime * (runtime + 2 * self.base_load)
        ).ravel()
        quadratic = np.zeros((variables, variables))
        first, second = np.triu_indices(self.num_tasks, 1)
        for m in range(self.num_machines):
            quadratic[first * self.num_machines + m, second * self.num_machines + m] = (
                2 * weight * runtime[first, m] * runtime[second, m]
            )
        return Qubo(linear, quadratic, weight * float(self.base_load @ self.base_load))

    @cached_property
    def rows(self) -> list[tuple[str, IntegerRow]]:
        """The program's integer rows by name, in program order: one-hot per task, capacity per
        capped (machine, resource), the power cap. (The ``x <= on`` rows are `implications`.)"""
        machines = np.arange(self.num_machines)
        rows = [
            (
                f"task{t}",
                IntegerRow(t * self.num_machines + machines, np.ones_like(machines), 1, True),
            )
            for t in range(self.num_tasks)
        ]
        rows += [self._capacity_row(m, r) for m, r in self.capped_resources()]
        if self.power_row is not None:
            coefficients, rhs = self.power_row
            used = np.flatnonzero(coefficients)
            rows.append(("power_cap", IntegerRow(self.cells + used, coefficients[used], rhs)))
        return rows

    def implications(self) -> list[tuple[int, int]]:
        """``x{t}_{m} <= on{m}`` as (x, on) variable pairs, where the power cap binds."""
        if self.power_row is None:
            return []
        return [
            (t * self.num_machines + m, self.cells + m)
            for t in range(self.num_tasks)
            for m in range(self.num_machines)
        ]

    def _capacity_row(self, machine: int, resource: int) -> tuple[str, IntegerRow]:
        demand = self.problem.demand[:, resource]
        capacity = self.problem.capacity[machine, resource]
        name = f"capacity{machine}_{self.problem.resources[resource]}"
        users = np.flatnonzero(demand > 0)
        variables = users * self.num_machines + machine
        if capacity <= 0:
            return name, IntegerRow(variables, np.ones_like(users), 0)
        chosen = self.incumbent[users] == machine
        row = incumbent_row(demand[users], capacity, chosen)
        if row is None and not over_capacity(demand[users][chosen].sum(), capacity):
            # The incumbent fits for real but not after rounding: let its own rounded load through.
            coefficients, rhs = integer_row(demand[users], capacity, CONSTRAINT_STEPS[-1])
            row = coefficients, max(rhs, int(coefficients[chosen].sum()))
        coefficients, rhs = row or integer_row(demand[users], capacity, CONSTRAINT_STEPS[-1])
        return name, IntegerRow(variables, coefficients, rhs)

    def to_quadratic_program(self) -> QuadraticProgram:
        """The program (module docstring) for qiskit-optimization."""
        from qiskit_optimization import QuadraticProgram

        problem = self.problem
        names = self._names()
        program = QuadraticProgram(problem.name or "task-allocation")
        for name in names:
            program.binary_var(name)
        objective = self.objective_arrays
        first, second = np.nonzero(objective.quadratic)
        program.minimize(
            constant=objective.constant,
            linear={name: float(c) for name, c in zip(names, objective.linear, strict=True)},
            quadratic={
                (names[i], names[j]): float(objective.quadratic[i, j])
                for i, j in zip(first, second, strict=True)
            },
        )
        for name, row in self.rows:
            program.linear_constraint(
                {names[v]: int(c) for v, c in zip(row.variables, row.coefficients, strict=True)},
                "==" if row.equality else "<=",
                row.rhs,
                name=name,
            )
        for x, on in self.implications():
            t, m = divmod(x, self.num_machines)
            program.linear_constraint({names[x]: 1, names[on]: -1}, "<=", 0, name=f"on{t}_{m}")
        return program

    def solution(self, assignment: np.ndarray) -> np.ndarray:
        """The program's variable vector for an assignment (machines on where they have tasks)."""
        return self.solutions(np.asarray(assignment)[None, :])[0, :]

    def solutions(self, assignments: np.ndarray) -> np.ndarray:
        """`solution` for each row of ``assignments`` (N, T)."""
        x = assignments[:, :, None] == np.arange(self.num_machines)
        parts = [x.reshape(len(assignments), self.cells)]
        if self.power_row is not None:
            parts.append(x.any(axis=1))
        return np.concatenate(parts, axis=1).astype(float)

    def meet_rows(self, assignments: np.ndarray) -> np.ndarray:
        """Whether each row of ``assignments`` (N, T) meets the program's constraints."""
        x = self.solutions(assignments)
        fits = np.ones(len(assignments), dtype=bool)
        for _, row in self.rows:
            fits &= row.holds(x)
        return fits

    def objective(self, assignment: np.ndarray) -> float:
        """The program's objective at an assignment, in units of `scale`."""
        return float(self.objectives(np.asarray(assignment, dtype=np.int64)[None, :])[0])

    def objectives(self, assignments: np.ndarray) -> np.ndarray:
        """`objective` for each row of ``assignments`` (N, T)."""
        return self._unscaled(assignments) / self.scale

    @property
    def _incumbent_upper(self) -> float | None:
        """The penalty's upper bound: the incumbent's objective when it meets the constraints
        (always, unless it overfills a machine)."""
        return (
            self.objective(self.incumbent) if self.meet_rows(self.incumbent[None, :])[0] else None
        )

    def qiskit_qubo(self) -> QuboForm:
        """`to_quadratic_program` converted by qiskit-optimization at `to_qubo`'s penalty."""
        return to_qubo(self.to_quadratic_program(), upper=self._incumbent_upper)

    def to_qubo(self) -> PenaltyQubo:
        """The program's QUBO, built from its arrays, with the penalty calibrated on the
        incumbent."""
        return penalty_qubo(
            self.objective_arrays,
            [row for _, row in self.rows],
            self.implications(),
            upper=self._incumbent_upper,
        )

    @cached_property
    def num_qubits(self) -> int:
        """Qubits of the QUBO: the program's variables and its inequalities' slack bits."""
        return self.num_variables + sum(row.slack_weights().size for _, row in self.rows)

    def interpret(self, x: np.ndarray) -> np.ndarray:
        """Machine per task from the program's variables; -1 where a row is not one-hot."""
        rows = np.asarray(x)[: self.cells].reshape(self.num_tasks, self.num_machines).round()
        return np.where(rows.sum(axis=1) == 1, rows.argmax(axis=1), -1)

    def start_state(self, assignment: np.ndarray, num_qubits: int) -> np.ndarray:
        """An assignment as the XY mixer's initial QUBO bits: its one-hot rows, every other
        qubit (slack, machine-on) 0, as those start in |+>."""
        bits = np.zeros(num_qubits, dtype=np.int64)
        bits[np.arange(self.num_tasks) * self.num_machines + np.asarray(assignment)] = 1
        return bits

    def one_hot_groups(self) -> list[list[int]]:
        """The qubits of each task's row (the first T*M variables of the QUBO), for the XY mixer."""
        return [
            [t * self.num_machines + m for m in range(self.num_machines)]
            for t in range(self.num_tasks)
        ]
