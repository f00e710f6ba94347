"""The classic list-scheduling heuristics for heterogeneous systems.

Min-min, Max-min and Sufferage as compared by Braun et al. (2001): repeatedly
take, among the unassigned tasks, the one whose best completion time is the
smallest (Min-min), the largest (Max-min), or which would suffer most from
not getting its best machine (Sufferage), and put it on its best machine.
Machines run at their fastest DVFS level. A machine is a candidate for a
task only while the task's demand still fits its remaining capacity; a task
that fits nowhere goes to its earliest-completion machine anyway, and the
evaluator reports the violation. Ties go to the lower task, then machine, index.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from qsched.evaluate import Evaluation, over_capacity
from qsched.problem import FieldViolation, Problem, ProblemError
from qsched.registry import SolverKind, register
from qsched.solver import Budget, ProgressCallback, Result, Search

#: Chooses the next task from the (U,) best and second-best completion times.
Selector = Callable[[np.ndarray, np.ndarray], int]


def list_schedule(problem: Problem, select: Selector) -> np.ndarray:
    """Build an assignment task by task; ``select`` picks which unassigned task goes next."""
    runtime = problem.etc / problem.frequency[np.arange(problem.num_machines), problem.fastest_levels]
    ready = np.zeros(problem.num_machines)
    load = np.zeros_like(problem.capacity)
    unassigned = np.arange(problem.num_tasks)
    assignment = np.empty(problem.num_tasks, dtype=np.int64)
    while unassigned.size:
        completion = ready + runtime[unassigned]
        fits = ~over_capacity(load[None, :, :] + problem.demand[unassigned, None, :], problem.capacity).any(axis=2)
        fits |= ~fits.any(axis=1, keepdims=True)
        completion = np.where(fits, completion, np.inf)
        best_machine = np.argmin(completion, axis=1)
        ordered = np.sort(completion, axis=1)
        second = ordered[:, 1] if problem.num_machines > 1 else ordered[:, 0]
        chosen = select(ordered[:, 0], second)
        task, machine = unassigned[chosen], best_machine[chosen]
        assignment[task] = machine
        ready[machine] = completion[chosen, machine]
        load[machine] += problem.demand[task]
        unassigned = np.delete(unassigned, chosen)
    return assignment


def _min_min(best: np.ndarray, second: np.ndarray) -> int:
    return int(np.argmin(best))


def _max_min(best: np.ndarray, second: np.ndarray) -> int:
    return int(np.argmax(best))


def _sufferage(best: np.ndarray, second: np.ndarray) -> int:
    suffer = np.where(np.isfinite(second), second - best, np.inf)
    return int(np.argmax(suffer))


HEURISTICS: dict[str, Selector] = {"min-min": _min_min, "max-min": _max_min, "sufferage": _sufferage}


def greedy_start(search: Search, start: str) -> Evaluation:
    """Evaluate the named heuristic's schedule: the starting point of the searches.

    ``start`` comes from a solver option, so a bad name is reported as ``options.start``.
    """
    if start not in HEURISTICS:
        raise ProblemError([FieldViolation("options.start", f"must be one of {', '.join(sorted(HEURISTICS))}")])
    return search.evaluate(list_schedule(search.problem, HEURISTICS[start]), stage="construct")


def _solve_with(name: str, problem: Problem, budget: Budget, progress: ProgressCallback | None) -> Result:
    search = Search(problem, budget, progress)
    greedy_start(search, name)
    return search.result(name, completed=True)


@register("min-min", kind=SolverKind.HEURISTIC, finite=True)
def min_min(problem: Problem, budget: Budget, seed: int, progress: ProgressCallback | None = None) -> Result:
    """Min-min: next the task with the earliest best completion time (Braun et al. 2001)."""
    return _solve_with("min-min", problem, budget, progress)


@register("max-min", kind=SolverKind.HEURISTIC, finite=True)
def max_min(problem: Problem, budget: Budget, seed: int, progress: ProgressCallback | None = None) -> Result:
    """Max-min: next the task with the latest best completion time (Braun et al. 2001)."""
    return _solve_with("max-min", problem, budget, progress)


@register("sufferage", kind=SolverKind.HEURISTIC, finite=True)
def sufferage(problem: Problem, budget: Budget, seed: int, progress: ProgressCallback | None = None) -> Result:
    """Sufferage: next the task that loses most if denied its best machine (Maheswaran et al. 1999)."""
    return _solve_with("sufferage", problem, budget, progress)
