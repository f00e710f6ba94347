"""Exhaustive search: every assignment with every DVFS level choice, for tiny problems.

The exact answer where brute force is cheaper than a model: M^T
assignments times the product of the machines' level counts, each scored by
the evaluator, so its answer is optimal by the evaluator's own order
(feasible first, then least violation, then objective); when the best is
feasible its objective is reported as the proven bound (fact ``bound``), so
comparisons show every solver's gap to it. Problems with more than
`MAX_SCHEDULES` schedules are refused.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from qsched.model.problem import FieldViolation, Problem
from qsched.model.registry import SolverKind, register
from qsched.model.solver import Budget, ProgressCallback, Result
from qsched.search.tracker import SolveTracker

#: Most schedules the exhaustive search takes on: every one is evaluated, so beyond this a
#: solve would spend its budget without reaching the proof that makes the search worth it.
MAX_SCHEDULES = 1_000_000


def schedule_count(problem: Problem) -> int:
    assignments: int = problem.num_machines**problem.num_tasks
    return assignments * math.prod(int(k) for k in problem.level_count)


def check_exhaustive(problem: Problem, options: Mapping[str, Any]) -> list[FieldViolation]:
    if schedule_count(problem) > MAX_SCHEDULES:
        return [
            FieldViolation(
                "problem.tasks",
                f"has more than {MAX_SCHEDULES:,} schedules (machines^tasks x level choices); "
                "exhaustive search is for tiny problems",
            )
        ]
    return []


@register("exhaustive", kind=SolverKind.EXACT, finite=True, check=check_exhaustive)
def exhaustive(
    problem: Problem, budget: Budget, seed: int, progress: ProgressCallback | None = None
) -> Result:
    """Exhaustive search over every assignment and level choice (tiny problems only)."""
    tracker = SolveTracker(problem, budget, progress)
    level_choices = [
        np.array(levels) for levels in itertools.product(*(range(k) for k in problem.level_count))
    ]
    for assignment in itertools.product(range(problem.num_machines), repeat=problem.num_tasks):
        for levels in level_choices:
            if tracker.exhausted:
                return tracker.result("exhaustive", completed=False)
            tracker.evaluate(np.array(assignment), levels)
    # Every schedule seen: a feasible best is the proven optimum.
    bound = tracker.best.objective if tracker.best is not None and tracker.best.feasible else None
    return tracker.result(
        "exhaustive", completed=True, bound=bound, facts={"schedules": schedule_count(problem)}
    )
