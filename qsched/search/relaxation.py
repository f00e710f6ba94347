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

import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import highspy
import numpy as np

from qsched.model.evaluate import Evaluation
from qsched.model.problem import Problem
from qsched.search.assignment_mip import (
    AssignmentModel,
    Cells,
    cell_costs,
    new_highs,
    run_until,
)
from qsched.search.list_scheduling import fastest_runtimes, list_schedule
from qsched.search.tracker import SolveTracker

#: Largest problem (tasks x machines) the LP is built for: a column per cell.
MAX_CELLS = 2_000_000
#: An x at least this close to 1 counts as whole.
WHOLE = 1 - 1e-6


@dataclass(frozen=True)
class Relaxation:
    """The LP's optimum (or, where time ran out first, the last restricted one's): (T, M) x,
    a lower bound on the LP's optimum (equal to it where ``optimal``), and each cell's
    reduced cost (how much a schedule's LP value would rise per unit of that cell: the
    size reduction's guide)."""

    x: np.ndarray
    value: float
    reduced_cost: np.ndarray
    optimal: bool = True


#: Machines per task in the first restricted LP of `solve_relaxation`: those on which its
#: runtime is least relative to the machine's mean runtime.
FIRST_COLUMNS = 4
#: Columns a task may gain per pricing round: its cells of most negative reduced cost.
COLUMNS_PER_ROUND = 2
#: A reduced cost below minus this (relative to the objective per task) prices a cell in.
PRICING_TOLERANCE = 1e-9


def solve_relaxation(
    problem: Problem, seconds: float | None, should_stop: Callable[[], bool] = lambda: False
) -> Relaxation | None:
    """The LP's optimum by column pricing; where ``seconds`` end (or ``should_stop``) first,
    the last restricted LP's optimum (not ``optimal``), or None before the first one.

    Why pricing: an optimum has at most T + M nonzero cells of T x M, and a simplex over
    every cell spends most of its time on columns that never enter (at 4,096 x 128 the full
    LP takes longer than a benchmark's budget). So the LP starts with each task's
    `FIRST_COLUMNS` machines of least runtime relative to the machine's mean: at the
    optimum every machine finishes at the makespan, so a slow machine holds the tasks it is
    least slow at. (On consistent instances a task's fastest machines are every task's
    fastest, and pricing from those needs many more rounds to fill the others.) Each round
    adds the cells whose reduced cost under the round's duals is negative, until none is:
    that optimum is the full LP's.
    The reported value is the Lagrangian bound at the last duals: never above the full
    LP's optimum, whether pricing converged or time cut it short.
    """
    started = time.monotonic()
    runtimes = fastest_runtimes(problem)
    tasks = np.arange(problem.num_tasks)
    allowed = np.zeros(runtimes.shape, dtype=bool)
    relative = runtimes / np.maximum(runtimes.mean(axis=0), np.finfo(float).tiny)
    first = np.argsort(relative, axis=1, kind="stable")[:, :FIRST_COLUMNS]
    allowed[tasks[:, None], first] = True
    allowed[tasks, list_schedule(problem, "mct")] = True  # room on every machine
    allowed[np.argmin(runtimes, axis=0), np.arange(problem.num_machines)] = True  # a row each
    every = Cells.all(*runtimes.shape)
    costs = cell_costs(problem, runtimes.ravel(), every).reshape(runtimes.shape)
    model = AssignmentModel(problem, runtimes, Cells.where(allowed), integer=False)
    highs = new_highs()
    highs.passModel(model.lp)
    last: Relaxation | None = None
    while True:
        if seconds is not None:  # HiGHS holds its time limit against all its runs' time
            left = max(seconds - (time.monotonic() - started), 1e-3)
            highs.setOptionValue("time_limit", highs.getRunTime() + left)
        if not run_until(highs, should_stop):
            return last
        status = highs.getModelStatus()
        if status == highspy.HighsModelStatus.kInfeasible and not allowed.all():
            model.add_cells(highs, Cells.where(~allowed))  # capacities need machines left out
            allowed[:] = True
            continue
        if status != highspy.HighsModelStatus.kOptimal:
            return last
        solution = highs.getSolution()
        prices = model.prices(np.asarray(solution.row_dual))
        reduced = prices.reduced_costs(costs, runtimes, problem.demand)
        value = float(highs.getInfo().objective_function_value)
        x = np.zeros(runtimes.shape)
        x[model.cells.task, model.cells.machine] = np.asarray(solution.col_value[1:])
        lagrangian = value + float(np.minimum(reduced.min(axis=1), 0.0).sum())
        tolerance = PRICING_TOLERANCE * (1.0 + abs(value) / problem.num_tasks)
        candidates = np.where(allowed, np.inf, reduced)
        best = np.argsort(candidates, axis=1, kind="stable")[:, :COLUMNS_PER_ROUND]
        entering = np.zeros(runtimes.shape, dtype=bool)
        entering[tasks[:, None], best] = candidates[tasks[:, None], best] < -tolerance
        last = Relaxation(x, lagrangian, reduced, optimal=not entering.any())
        if last.optimal:
            return last
        model.add_cells(highs, Cells.where(entering))
        allowed |= entering


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
    return None if solved is None else solved.value * (1 - BOUND_MARGIN)


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

#: Each solve's LP (or None: too large, or no optimum in its share of the time), solved at
#: most once: the start and the matheuristic's size reduction both read it.
_SOLVED: weakref.WeakKeyDictionary[SolveTracker, Relaxation | None] = weakref.WeakKeyDictionary()


def solve_relaxation_once(tracker: SolveTracker, share: float = LP_SHARE) -> Relaxation | None:
    """The tracker's problem's LP, solved (stage ``"lp"``) within ``share`` of the wall
    budget left on the first call, and the same answer on every later one; None if the
    problem is larger than `MAX_CELLS` or HiGHS finished no restricted LP in time."""
    if tracker in _SOLVED:
        return _SOLVED[tracker]
    problem = tracker.problem
    solved = None
    if problem.num_tasks * problem.num_machines <= MAX_CELLS:
        wall = tracker.budget.wall_seconds
        seconds = None if wall is None else share * max(wall - tracker.elapsed, 0.0)
        with tracker.stage("lp"):
            solved = solve_relaxation(problem, seconds, lambda: tracker.exhausted)
    _SOLVED[tracker] = solved
    return solved


class RelaxedStart(NamedTuple):
    """The rounded LP schedule, scored; the LP's bound on the objective where it is one; and
    whether the LP was solved to its optimum (not cut short by its share of the time)."""

    start: Evaluation
    bound: float | None
    optimal: bool


def relaxed_start(tracker: SolveTracker) -> RelaxedStart | None:
    """The rounded LP schedule (stage ``"lp"``); None where `solve_relaxation_once` has no LP."""
    solved = solve_relaxation_once(tracker)
    if solved is None:
        return None
    problem = tracker.problem
    bound = solved.value * (1 - BOUND_MARGIN) if bounds_objective(problem) else None
    start = tracker.evaluate(rounded(problem, solved.x), stage="lp")
    return RelaxedStart(start, bound, solved.optimal)
