"""The assignment model, built from arrays for HiGHS: the LP relaxation and its MIPs.

Why arrays: a model with a column per (task, machine) cell built through an
algebraic layer costs seconds of Python at a few thousand tasks; built here as
one column-wise sparse matrix it takes milliseconds at 500,000 cells, so the
exact engine can solve restricted models over and over (size reduction,
neighbourhood re-optimisation) within a budget of seconds.

A model is defined over any set of cells (``task[i]`` may run on
``machine[i]``): one column per cell, then the makespan C. Rows: each of its
tasks runs once; each of its machines' busy time (at the fastest level) is at
most C; each machine's summed demand within its capacities. A model may leave
some tasks of its machines where a schedule has them (``held``): their busy
time and demand then count as fixed in those rows. The objective is
the evaluator's as far as it is linear at every machine's fastest level (see
`qsched.search.relaxation`), plus ``tie_weight`` times each cell's runtime: a
tie-break towards the schedule with the least busy time among those of equal
makespan, which leaves the machines slack for the next neighbourhood.
Deadlines and the power cap are not in it: whoever uses a schedule from it
scores it with the one evaluator, which does.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import highspy
import numpy as np
import numpy.typing as npt

from qsched.model.problem import Problem

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: A value at least this high is a chosen binary.
CHOSEN = 0.5


@dataclass(frozen=True)
class Cells:
    """The (task, machine) pairs a model has a column for, task-major."""

    task: IntArray
    machine: IntArray

    @classmethod
    def all(cls, tasks: int, machines: int) -> Cells:
        task, machine = np.divmod(np.arange(tasks * machines, dtype=np.int64), machines)
        return cls(task, machine)

    @classmethod
    def where(cls, allowed: npt.NDArray[np.bool_]) -> Cells:
        """The cells of a (T, M) mask."""
        task, machine = np.nonzero(allowed)
        return cls(task.astype(np.int64), machine.astype(np.int64))

    @classmethod
    def block(cls, tasks: IntArray, machines: IntArray) -> Cells:
        """Every pair of ``tasks`` x ``machines``: a neighbourhood's sub-problem."""
        return cls(np.repeat(tasks, len(machines)), np.tile(machines, len(tasks)))

    def __len__(self) -> int:
        return len(self.task)


def cell_costs(problem: Problem, runtime: FloatArray, cells: Cells) -> FloatArray:
    """Each cell's share of the objective: its task's energy above idle on its machine at
    the fastest level (``runtime``: the cells' runtimes there)."""
    watts = problem.dynamic_watts(cells.task, cells.machine, problem.fastest_levels[cells.machine])
    costs: FloatArray = problem.energy_weight * watts * runtime
    return costs


@dataclass(frozen=True)
class RowPrices:
    """An LP's duals: per task (its assignment row), per machine (its busy time row, <= 0)
    and per machine and resource (its capacity row, <= 0)."""

    task: FloatArray
    busy: FloatArray
    capacity: FloatArray

    def reduced_costs(
        self, costs: FloatArray, runtimes: FloatArray, demand: FloatArray
    ) -> FloatArray:
        """(T, M): how much the objective would change per unit of each cell, had the
        model a column for it (a negative one would enter the LP's basis). ``costs``:
        every cell's `cell_costs`, (T, M); ``demand``: the tasks' (T, R)."""
        reduced: FloatArray = (
            costs - self.task[:, None] - runtimes * self.busy[None, :] - demand @ self.capacity.T
        )
        return reduced


@dataclass(frozen=True)
class Columns:
    """Cell columns in HiGHS's column-wise form (``addCols``' arguments, less the bounds)."""

    cost: FloatArray
    start: IntArray
    index: IntArray
    value: FloatArray


def cell_columns(
    problem: Problem,
    cells: Cells,
    runtime: FloatArray,
    rows: tuple[IntArray, IntArray, int, int],
    tie_weight: float,
) -> Columns:
    """The columns of ``cells``: a 1 in its task's row, its ``runtime`` in its machine's busy
    row, its task's demand in its machine's capacity rows. ``rows``: each cell's task row
    and machine position, and how many tasks and machines the model has."""
    task_row, machine_row, tasks, machines = rows
    columns, resources = len(cells), problem.capacity.shape[1]
    cell, resource = np.nonzero(problem.demand[cells.task] > 0)
    row = np.concatenate(
        [task_row, tasks + machine_row, tasks + machines + machine_row[cell] * resources + resource]
    )
    column = np.concatenate([np.arange(columns), np.arange(columns), cell])
    value = np.concatenate([np.ones(columns), runtime, problem.demand[cells.task[cell], resource]])
    order = np.lexsort((row, column))
    return Columns(
        cell_costs(problem, runtime, cells) + tie_weight * runtime,
        np.searchsorted(column[order], np.arange(columns + 1)),
        row[order],
        value[order],
    )


class AssignmentModel:
    """One model over `Cells`, ready for HiGHS, with the maps back to the schedule."""

    def __init__(
        self,
        problem: Problem,
        runtimes: FloatArray,
        cells: Cells,
        *,
        integer: bool,
        tie_weight: float = 0.0,
        held: IntArray | None = None,
        floor: float = 0.0,
    ):
        """``held``: a schedule whose tasks outside ``cells`` stay where it has them.
        ``floor``: the makespan the model need not go below; at it, only the busy time
        (``tie_weight``) and the cells' costs are left to lower."""
        self.problem, self.cells, self.runtimes = problem, cells, runtimes
        self.floor = floor
        self.tasks, task_row = np.unique(cells.task, return_inverse=True)
        self.machines, machine_row = np.unique(cells.machine, return_inverse=True)
        self.runtime = runtimes[cells.task, cells.machine]
        self.held_busy, self.held_demand = self._held(held)
        columns = cell_columns(
            problem,
            cells,
            self.runtime,
            (task_row, machine_row, len(self.tasks), len(self.machines)),
            tie_weight,
        )
        self.lp = self._build(problem, columns, integer)

    def _held(self, held: IntArray | None) -> tuple[FloatArray, FloatArray]:
        """The busy time and (machine, resource) demand on the model's machines of the tasks
        ``held`` keeps out of it."""
        problem, machines = self.problem, len(self.machines)
        demand = np.zeros((machines, problem.capacity.shape[1]))
        if held is None:
            return np.zeros(machines), demand
        kept = np.isin(held, self.machines)
        kept[self.tasks] = False
        tasks = np.flatnonzero(kept)
        position = np.searchsorted(self.machines, held[tasks])
        busy = np.asarray(
            np.bincount(position, weights=self.runtimes[tasks, held[tasks]], minlength=machines),
            dtype=np.float64,
        )
        np.add.at(demand, position, problem.demand[tasks])
        return busy, demand

    def _build(self, problem: Problem, cells: Columns, integer: bool) -> highspy.HighsLp:
        """The makespan C first (-1 in every busy row), then the cells' columns: cells added
        later (`add_cells`) follow them, and C keeps its place."""
        columns, tasks, machines = len(self.cells), len(self.tasks), len(self.machines)
        resources = problem.capacity.shape[1]
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = columns + 1, tasks + machines + machines * resources
        idle = problem.idle_watts.sum() if problem.idle_machines_on else 0.0
        lp.col_cost_ = np.append(problem.makespan_weight + problem.energy_weight * idle, cells.cost)
        lp.col_lower_ = np.append(self.floor, np.zeros(columns))
        # x <= 1 follows from the task rows; the LP leaves it out so that every reduced cost
        # of its optimum is >= 0 and prices the cells it lacks (`qsched.search.relaxation`).
        lp.col_upper_ = np.append(np.inf, np.ones(columns) if integer else np.full(columns, np.inf))
        lp.row_lower_ = np.concatenate(
            [np.ones(tasks), np.full(machines + machines * resources, -highspy.kHighsInf)]
        )
        lp.row_upper_ = np.concatenate(
            [
                np.ones(tasks),
                -self.held_busy,
                (problem.capacity[self.machines] - self.held_demand).ravel(),
            ]
        )
        matrix = lp.a_matrix_
        matrix.format_ = highspy.MatrixFormat.kColwise
        matrix.start_ = np.append(0, machines + cells.start)
        matrix.index_ = np.concatenate([tasks + np.arange(machines), cells.index])
        matrix.value_ = np.concatenate([-np.ones(machines), cells.value])
        if integer:
            lp.integrality_ = [highspy.HighsVarType.kContinuous] + [
                highspy.HighsVarType.kInteger
            ] * columns
        return lp

    def add_cells(self, highs: highspy.Highs, cells: Cells) -> None:
        """Add ``cells`` to this LP, loaded in ``highs``, as columns after the ones it has
        (its basis stays, so the next run starts from the last optimum). The model must
        span every task and machine, so the new cells' rows exist."""
        problem = self.problem
        runtime = self.runtimes[cells.task, cells.machine]
        rows = (cells.task, cells.machine, problem.num_tasks, problem.num_machines)
        added = cell_columns(problem, cells, runtime, rows, 0.0)
        count = len(cells)
        highs.addCols(
            count,
            added.cost,
            np.zeros(count),
            np.full(count, highspy.kHighsInf),
            len(added.index),
            added.start[:-1].astype(np.int32),
            added.index.astype(np.int32),
            added.value,
        )
        self.cells = Cells(
            np.concatenate([self.cells.task, cells.task]),
            np.concatenate([self.cells.machine, cells.machine]),
        )
        self.runtime = np.concatenate([self.runtime, runtime])

    def prices(self, row_dual: FloatArray) -> RowPrices:
        """The rows' duals by task and machine (zero for those the model has no row for)."""
        problem, tasks, machines = self.problem, len(self.tasks), len(self.machines)
        resources = problem.capacity.shape[1]
        task = np.zeros(problem.num_tasks)
        task[self.tasks] = row_dual[:tasks]
        busy = np.zeros(problem.num_machines)
        busy[self.machines] = row_dual[tasks : tasks + machines]
        capacity = np.zeros((problem.num_machines, resources))
        capacity[self.machines] = row_dual[tasks + machines :].reshape(machines, resources)
        return RowPrices(task, busy, capacity)

    def start_values(self, assignment: IntArray) -> FloatArray:
        """Column values of a schedule (its tasks' machines must be among the cells)."""
        chosen = assignment[self.cells.task] == self.cells.machine
        busy = np.bincount(
            np.searchsorted(self.machines, self.cells.machine[chosen]),
            weights=self.runtime[chosen],
            minlength=len(self.machines),
        )
        makespan = max((busy + self.held_busy).max(initial=0.0), self.floor)
        return np.append(makespan, chosen.astype(float))

    def schedule(self, values: FloatArray, assignment: IntArray) -> IntArray:
        """``assignment`` with the model's tasks moved where ``values`` puts them."""
        chosen = values[1:] >= CHOSEN
        moved = assignment.copy()
        moved[self.cells.task[chosen]] = self.cells.machine[chosen]
        return moved


@contextmanager
def quiet_stdout() -> Iterator[None]:
    """HiGHS prints a banner on file descriptor 1 when a process makes its first instance,
    before any option can turn it off; it must not land in ``qsched solve --json``."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def new_highs(seconds: float | None = None) -> highspy.Highs:
    """A silent one-thread HiGHS, with a time limit if ``seconds``."""
    with quiet_stdout():
        highs = highspy.Highs()  # type: ignore[no-untyped-call]
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("log_to_console", False)
    highs.setOptionValue("threads", 1)
    if seconds is not None:
        highs.setOptionValue("time_limit", max(seconds, 1e-3))
    return highs


#: How often a caller waiting on HiGHS looks at its stop request.
STOP_POLL_SECONDS = 0.01


def run_until(highs: highspy.Highs, should_stop: Callable[[], bool]) -> bool:
    """Run ``highs`` until it ends or ``should_stop`` says so; whether it ended.

    HiGHS asks ``should_stop`` at each of its interrupt checks (every few simplex
    iterations, interior point iterations and branch-and-bound steps), but in a large
    MIP's root node (its LP re-solves, cut rounds and probing) these can be tenths of a
    second apart. So HiGHS runs on a thread of its own and a stop returns at once: HiGHS
    ends there at its next check (``should_stop``, once true, must stay true), and the
    caller, which has no answer, must not touch ``highs`` again. The thread is not a daemon:
    one that calls back into Python while the interpreter exits aborts the process."""

    def interrupt(event: highspy.HighsCallbackEvent) -> None:
        if should_stop():
            event.interrupt()

    highs.cbSimplexInterrupt.subscribe(interrupt)
    highs.cbIpmInterrupt.subscribe(interrupt)
    highs.cbMipInterrupt.subscribe(interrupt)
    solver = threading.Thread(target=highs.run, name="highs")
    solver.start()
    while solver.is_alive():
        solver.join(STOP_POLL_SECONDS)
        if solver.is_alive() and should_stop():
            return False
    return True


@dataclass(frozen=True)
class MipAnswer:
    """What a MIP solve left: its best column values (None if it found none or was left to
    end on its own at a stop request), whether it proved them optimal, whether it stopped
    at a limit on its work (nodes, simplex iterations or time, not at its count of
    improving schedules), its bound, and its work (branch-and-bound nodes + simplex
    iterations: deterministic, and what an evaluation budget charges for it)."""

    values: FloatArray | None
    optimal: bool
    out_of_work: bool
    bound: float
    work: int


def solve_mip(
    model: AssignmentModel,
    start: IntArray,
    *,
    nodes: int | None,
    seconds: float | None,
    iterations: int | None = None,
    should_stop: Callable[[], bool],
    relative_gap: float = 0.0,
    improvements: int | None = None,
    sub_mip_heuristics: bool = True,
) -> MipAnswer:
    """Solve ``model`` as a MIP from the schedule ``start``.

    ``nodes`` and ``iterations`` (simplex iterations) are the deterministic limits: with
    them (and no ``seconds``) the same model always gives the same answer. ``seconds``
    bounds the wall time as well, and ``should_stop`` is asked at every HiGHS interrupt
    check (between its search steps).

    ``improvements`` ends the search at that many improving schedules (``start`` is the
    first), and ``sub_mip_heuristics=False`` turns off HiGHS's own neighbourhood searches
    (RENS, RINS): on a model of a few hundred columns inside a search that calls it again
    at once, most of the time HiGHS spends is in proving the last small improvement or in
    sub-MIPs of its own, and the calling search gains more from the next neighbourhood.
    """
    highs = new_highs(seconds)
    highs.setOptionValue("mip_rel_gap", relative_gap)
    if nodes is not None:
        highs.setOptionValue("mip_max_nodes", nodes)
    if improvements is not None:
        highs.setOptionValue("mip_max_improving_sols", improvements)
    if not sub_mip_heuristics:
        highs.setOptionValue("mip_heuristic_run_rens", False)
        highs.setOptionValue("mip_heuristic_run_rins", False)
    if iterations is not None:
        highs.setOptionValue("simplex_iteration_limit", iterations)
    highs.passModel(model.lp)
    warm = highspy.HighsSolution()
    warm.col_value = model.start_values(start).tolist()
    warm.value_valid = True
    highs.setSolution(warm)

    if not run_until(highs, should_stop):
        return MipAnswer(None, optimal=False, out_of_work=True, bound=-np.inf, work=0)
    info = highs.getInfo()
    found = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
    values = np.asarray(highs.getSolution().col_value, dtype=float) if found else None
    status = highs.getModelStatus()
    optimal = status == highspy.HighsModelStatus.kOptimal
    # HiGHS reports the node limit and the improving-schedules limit alike, as a solution limit.
    improved_enough = (
        improvements is not None
        and status == highspy.HighsModelStatus.kSolutionLimit
        and (nodes is None or info.mip_node_count < nodes)
    )
    work = max(info.mip_node_count, 0) + max(info.simplex_iteration_count, 0)
    out_of_work = not (optimal or improved_enough)
    return MipAnswer(values, optimal, out_of_work, float(info.mip_dual_bound), work)
