"""Local search: start from a greedy schedule, then hill-climb until the budget ends.

Each step proposes one change to the incumbent (`qsched.search.neighbourhood`: move a
task, swap two tasks, or change a machine's DVFS level) and keeps it when its
evaluation key (feasibility, violation, then objective) is no worse, so the
search can drift across plateaus. It runs compiled on an incremental schedule
until the budget is spent, and needs one.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np

from qsched.model.problem import Problem
from qsched.model.registry import SolverKind, register
from qsched.model.solver import Budget, ProgressCallback, Result
from qsched.search.construct import START, heuristic_start
from qsched.search.neighbourhood import can_move, hill_climb
from qsched.search.tracker import SolveTracker


@register("local-search", kind=SolverKind.METAHEURISTIC, finite=False)
def local_search(
    problem: Problem,
    budget: Budget,
    seed: int,
    progress: ProgressCallback | None = None,
    *,
    start: Annotated[str, START] = "min-min",
) -> Result:
    """Local search: moves, swaps and DVFS changes from a greedy start until the budget ends."""
    tracker = SolveTracker(problem, budget, progress)
    hill_climb(tracker, heuristic_start(tracker, start), np.random.default_rng(seed))
    return tracker.result("local-search", completed=not can_move(problem))
