"""Local search: start from a greedy schedule, then hill-climb until the budget ends.

Each step proposes one change to the incumbent (`operators.propose`: move a
task, swap two tasks, or change a machine's DVFS level) and keeps it when its
evaluation key (feasibility, violation, then objective) is no worse, so the
search can drift across plateaus. It runs until the budget is spent and needs one.
"""

from __future__ import annotations

import numpy as np

from qsched.baselines.greedy import greedy_start
from qsched.baselines.operators import can_move, hill_climb
from qsched.problem import Problem
from qsched.registry import SolverKind, register
from qsched.solver import Budget, ProgressCallback, Result, Search


@register("local-search", kind=SolverKind.METAHEURISTIC, finite=False)
def local_search(
    problem: Problem,
    budget: Budget,
    seed: int,
    progress: ProgressCallback | None = None,
    *,
    start: str = "min-min",
) -> Result:
    """Local search: moves, swaps and DVFS changes from a greedy start until the budget ends."""
    search = Search(problem, budget, progress)
    hill_climb(search, greedy_start(search, start), np.random.default_rng(seed))
    return search.result("local-search", completed=not can_move(problem))
