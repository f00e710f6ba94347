"""MCT, Min-min, Max-min and Sufferage as solvers: the heuristic's schedule, evaluated once.

The heuristics themselves are `qsched.search.construct`'s, where every search also
takes its start from. A budget that ends mid-heuristic leaves the rest of
the tasks to MCT, so the solver still answers (stopped by its budget).
"""

from __future__ import annotations

from qsched.model.problem import Problem
from qsched.model.registry import SolverKind, register
from qsched.model.solver import Budget, ProgressCallback, Result
from qsched.search.construct import budgeted_schedule
from qsched.search.tracker import SolveTracker


def _solve_with(
    name: str, problem: Problem, budget: Budget, progress: ProgressCallback | None
) -> Result:
    tracker = SolveTracker(problem, budget, progress)
    assignment, finished = budgeted_schedule(tracker, name)
    tracker.evaluate(assignment, stage="construct")
    return tracker.result(name, completed=finished)


@register("mct", kind=SolverKind.HEURISTIC, finite=True)
def mct(
    problem: Problem, budget: Budget, seed: int, progress: ProgressCallback | None = None
) -> Result:
    """MCT: each task in earliest-deadline order onto its earliest-completion machine, O(T M)
    (Braun et al. 2001): the fastest first schedule."""
    return _solve_with("mct", problem, budget, progress)


@register("min-min", kind=SolverKind.HEURISTIC, finite=True)
def min_min(
    problem: Problem, budget: Budget, seed: int, progress: ProgressCallback | None = None
) -> Result:
    """Min-min: next the task with the earliest best completion time (Braun et al. 2001)."""
    return _solve_with("min-min", problem, budget, progress)


@register("max-min", kind=SolverKind.HEURISTIC, finite=True)
def max_min(
    problem: Problem, budget: Budget, seed: int, progress: ProgressCallback | None = None
) -> Result:
    """Max-min: next the task with the latest best completion time (Braun et al. 2001)."""
    return _solve_with("max-min", problem, budget, progress)


@register("sufferage", kind=SolverKind.HEURISTIC, finite=True)
def sufferage(
    problem: Problem, budget: Budget, seed: int, progress: ProgressCallback | None = None
) -> Result:
    """Sufferage: next the task that loses most without its best machine (Maheswaran et al.
    1999)."""
    return _solve_with("sufferage", problem, budget, progress)
