"""The LP relaxation start: where the assignment LP puts each task, rounded.

Why: greedy starts (Min-min and kin) place one task at a time and leave the
search a schedule 5-25 % above the best known on Braun instances, far
enough that no neighbourhood of single moves and swaps walks back. The
linear relaxation of the assignment (x[t, m] in [0, 1], one machine per
task, every machine's busy time below the makespan C, capacities) is a
small LP, and its optimum (a vertex) has at most T + M nonzero x: all but at
most M tasks sit whole on one machine. Keeping those and placing the split
tasks by earliest completion gives a start close to the LP bound that the tabu
search then closes (how close, against Min-min's start, is in the HCSP
benchmark reports).

The LP minimizes the evaluator's objective as far as it is linear at every
machine's fastest level: makespan weight x C, plus energy weight x (each
task's energy above idle, plus idle power x C for machines that stay on).
Deadlines and the power cap are left to the search (it repairs a start that
misses them).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import highspy
import numpy as np

from qsched.model.evaluate import Evaluation
from qsched.model.problem import Problem
from qsched.search.list_scheduling import fastest_runtimes
from qsched.search.tracker import SolveTracker

#: Largest problem (tasks x machines) the LP is built for: a column per cell.
MAX_CELLS = 2_000_000
#: An x at least this close to 1 counts as whole.
WHOLE = 1 - 1e-6


def _dynamic_energy(problem: Problem, runtimes: np.ndarray) -> np.ndarray:
    """(T, M) joules above idle of each task on each machine at its fastest level."""
    tasks = np.arange(problem.num_tasks)[:, None]
    machines = np.arange(problem.num_machines)
    watts = problem.dynamic_watts(tasks, machines, problem.fastest_levels)
    energy: np.ndarray = watts * runtimes
    return energy


def _model(problem: Problem, runtimes: np.ndarray) -> highspy.HighsLp:
    """Columns x[t, m] (task-major) then C; rows: assignment, busy <= C, capacities."""
    tasks, machines = runtimes.shape
    resources = problem.capacity.shape[1]
    cells = tasks * machines
    t, m = np.divmod(np.arange(cells), machines)
    uses = problem.demand[t] > 0  # (cells, R)
    cell, resource = np.nonzero(uses)
    capacity_rows = tasks + machines + m[cell] * resources + resource
    rows = np.concatenate([t, tasks + m, capacity_rows, tasks + np.arange(machines)])
    columns = np.concatenate([np.arange(cells), np.arange(cells), cell, np.full(machines, cells)])
    values = np.concatenate(
        [np.ones(cells), runtimes.ravel(), problem.demand[t[cell], resource], -np.ones(machines)]
    )
    order = np.lexsort((rows, columns))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = cells + 1, tasks + machines + machines * resources
    idle = problem.idle_watts.sum() if problem.idle_machines_on else 0.0
    lp.col_cost_ = np.append(
        problem.energy_weight * _dynamic_energy(problem, runtimes).ravel(),
        problem.makespan_weight + problem.energy_weight * idle,
    )
    lp.col_lower_ = np.zeros(cells + 1)
    lp.col_upper_ = np.append(np.ones(cells), highspy.kHighsInf)
    lp.row_lower_ = np.concatenate(
        [np.ones(tasks), np.full(machines + machines * resources, -highspy.kHighsInf)]
    )
    lp.row_upper_ = np.concatenate([np.ones(tasks), np.zeros(machines), problem.capacity.ravel()])
    matrix = lp.a_matrix_
    matrix.format_ = highspy.MatrixFormat.kColwise
    matrix.start_ = np.searchsorted(columns[order], np.arange(cells + 2))
    matrix.index_ = rows[order]
    matrix.value_ = values[order]
    return lp


@contextmanager
def _quiet_stdout() -> Iterator[None]:
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


def solve_relaxation(problem: Problem, seconds: float | None) -> tuple[np.ndarray, float] | None:
    """The LP's (T, M) x and optimal value, or None if HiGHS found no optimum in ``seconds``."""
    runtimes = fastest_runtimes(problem)
    with _quiet_stdout():
        highs = highspy.Highs()  # type: ignore[no-untyped-call]
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("log_to_console", False)
    highs.setOptionValue("threads", 1)
    if seconds is not None:
        highs.setOptionValue("time_limit", max(seconds, 1e-3))
    highs.passModel(_model(problem, runtimes))
    highs.run()
    if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    values = np.asarray(highs.getSolution().col_value[:-1])
    return values.reshape(runtimes.shape), float(highs.getInfo().objective_function_value)


#: Taken off the LP's optimum before it is reported as a bound: HiGHS meets its rows to
#: a relative 1e-7, so the value itself may sit a hair above the true LP optimum.
BOUND_MARGIN = 1e-6


def bounds_objective(problem: Problem) -> bool:
    """Whether the LP's optimum is a lower bound on the evaluator's objective: it leaves out
    deadlines and the power cap (which only remove schedules) and prices energy at the
    fastest levels, which is exact when energy does not count or no machine has another."""
    return problem.energy_weight == 0 or bool((problem.level_count == 1).all())


def lp_bound(problem: Problem) -> float | None:
    """A proven lower bound on the objective from the LP, where `bounds_objective`."""
    if not bounds_objective(problem) or problem.num_tasks * problem.num_machines > MAX_CELLS:
        return None
    solved = solve_relaxation(problem, None)
    return None if solved is None else solved[1] * (1 - BOUND_MARGIN)


def rounded(problem: Problem, x: np.ndarray) -> np.ndarray:
    """Tasks whole in ``x`` stay where they are; split ones, longest first, go where they
    finish earliest."""
    runtimes = fastest_runtimes(problem)
    assignment: np.ndarray = x.argmax(axis=1)
    split = np.flatnonzero(x.max(axis=1) < WHOLE)
    whole = np.setdiff1d(np.arange(problem.num_tasks), split)
    busy = np.bincount(
        assignment[whole],
        weights=runtimes[whole, assignment[whole]],
        minlength=problem.num_machines,
    )
    for task in split[np.argsort(-runtimes[split].min(axis=1), kind="stable")]:
        machine = int(np.argmin(busy + runtimes[task]))
        assignment[task] = machine
        busy[machine] += runtimes[task, machine]
    return assignment


#: Share of the wall budget left that the LP may take before the start falls back to Min-min.
LP_SHARE = 0.25


def relaxed_start(tracker: SolveTracker) -> tuple[Evaluation, float | None] | None:
    """The rounded LP schedule, scored (stage ``"lp"``), and the LP's bound on the objective
    where it is one; None if the problem is larger than `MAX_CELLS` or the LP found no
    optimum within its share of the wall budget."""
    problem = tracker.problem
    if problem.num_tasks * problem.num_machines > MAX_CELLS:
        return None
    wall = tracker.budget.wall_seconds
    seconds = None if wall is None else LP_SHARE * (wall - tracker.elapsed)
    with tracker.stage("lp"):
        solved = solve_relaxation(problem, seconds)
    if solved is None:
        return None
    x, value = solved
    bound = value * (1 - BOUND_MARGIN) if bounds_objective(problem) else None
    return tracker.evaluate(rounded(problem, x), stage="lp"), bound
