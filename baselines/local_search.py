"""Local search: start from Min-min, then move and swap tasks while it helps.

Each step proposes one change to the incumbent: move a task to another
machine, swap two tasks on different machines, or (one step in ten, where
machines have several DVFS levels, and always on a single machine) set one
machine to another level. Half of the task moves start from the machine that
finishes last, since only those can shorten the makespan. A proposal is kept when its evaluation key (violation,
then objective) is no worse than the incumbent's, so the search can drift
across plateaus. It runs until the budget is spent and needs one.
"""

from __future__ import annotations

import numpy as np

from qsched.baselines.greedy import HEURISTICS, list_schedule
from qsched.evaluate import Evaluation
from qsched.problem import FieldViolation, Problem, ProblemError
from qsched.registry import SolverKind, register
from qsched.solver import Budget, ProgressCallback, Result, Search

#: Share of proposals that change a machine's DVFS level instead of moving tasks.
LEVEL_MOVE_RATE = 0.1


def propose(rng: np.random.Generator, problem: Problem, current: Evaluation) -> tuple[np.ndarray, np.ndarray]:
    """One neighbour of ``current`` as (assignment, levels): a move, a swap or a DVFS change."""
    assignment, levels = current.assignment.copy(), current.levels.copy()
    tunable = np.flatnonzero(problem.level_count > 1)
    if tunable.size and (problem.num_machines == 1 or rng.random() < LEVEL_MOVE_RATE):
        machine = int(rng.choice(tunable))
        levels[machine] = (levels[machine] + rng.integers(1, problem.level_count[machine])) % problem.level_count[machine]
        return assignment, levels
    if rng.random() < 0.5:
        task = int(rng.choice(np.flatnonzero(assignment == np.argmax(current.busy))))
    else:
        task = int(rng.integers(problem.num_tasks))
    if rng.random() < 0.5:
        others = np.flatnonzero(assignment != assignment[task])
        if others.size:
            partner = int(rng.choice(others))
            assignment[task], assignment[partner] = assignment[partner], assignment[task]
            return assignment, levels
    assignment[task] = (assignment[task] + rng.integers(1, problem.num_machines)) % problem.num_machines
    return assignment, levels


@register("local-search", kind=SolverKind.METAHEURISTIC, finite=False)
def local_search(
    problem: Problem,
    budget: Budget,
    seed: int,
    progress: ProgressCallback | None = None,
    *,
    start: str = "min-min",
) -> Result:
    """Local search: moves and swaps from a greedy start until the budget ends."""
    if start not in HEURISTICS:
        raise ProblemError([FieldViolation("options.start", f"must be one of {', '.join(sorted(HEURISTICS))}")])
    search = Search(problem, budget, progress)
    current = search.evaluate(list_schedule(problem, HEURISTICS[start]), stage="construct")
    rng = np.random.default_rng(seed)
    movable = problem.num_machines > 1 or problem.level_count.max() > 1
    while movable and not search.exhausted:
        candidate = search.evaluate(*propose(rng, problem, current))
        if candidate.key <= current.key:
            current = candidate
    return search.result("local-search", completed=not movable)
