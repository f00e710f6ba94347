"""The neighbourhood every search shares: one random change to a schedule, and hill climbing.

All searches work on the same encoding, a machine index per task plus a
DVFS level per machine, and score candidates only through
`SolveTracker.evaluate`:

- `propose`: one random neighbour (move, swap, or DVFS change);
- `hill_climb`: accept-if-not-worse steps from a schedule, for a step budget.
"""

from __future__ import annotations

import numpy as np

from qsched.evaluate import Evaluation
from qsched.problem import Problem
from qsched.solver import SolveTracker

#: Share of proposals that change a machine's DVFS level instead of moving tasks.
LEVEL_MOVE_RATE = 0.1


def propose(
    rng: np.random.Generator, problem: Problem, current: Evaluation
) -> tuple[np.ndarray, np.ndarray]:
    """One neighbour of ``current`` as (assignment, levels): a move, a swap or a DVFS change.

    Half of the task moves start from the machine that finishes last, since
    only those can shorten the makespan.
    """
    assignment, levels = current.assignment.copy(), current.levels.copy()
    if not can_move(problem):
        return assignment, levels
    tunable = np.flatnonzero(problem.level_count > 1)
    if tunable.size and (problem.num_machines == 1 or rng.random() < LEVEL_MOVE_RATE):
        machine = int(rng.choice(tunable))
        levels[machine] = (
            levels[machine] + rng.integers(1, problem.level_count[machine])
        ) % problem.level_count[machine]
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
    assignment[task] = (
        assignment[task] + rng.integers(1, problem.num_machines)
    ) % problem.num_machines
    return assignment, levels


def can_move(problem: Problem) -> bool:
    """Whether `propose` has anything to change."""
    return problem.num_machines > 1 or bool(problem.level_count.max() > 1)


def hill_climb(
    tracker: SolveTracker,
    current: Evaluation,
    rng: np.random.Generator,
    steps: int | None = None,
    stage: str = "search",
) -> Evaluation:
    """Accept-if-not-worse neighbours of ``current`` for ``steps`` steps (or until the budget
    ends)."""
    taken = 0
    while can_move(tracker.problem) and not tracker.exhausted and (steps is None or taken < steps):
        candidate = tracker.evaluate(*propose(rng, tracker.problem, current), stage=stage)
        if candidate.key <= current.key:
            current = candidate
        taken += 1
    return current
