"""The neighbourhood every search shares, and hill climbing on it.

All searches work on the same encoding, a machine index per task plus a
DVFS level per machine. One step proposes one random change: with
probability `LEVEL_MOVE_RATE` a machine's DVFS level, otherwise a task
(half the time one of the machine that finishes last, since only those
shorten the makespan) swaps with a task on another machine or moves to
another machine. `hill_climb` keeps a proposal when its key (feasibility,
violation, objective) is no worse, so the search drifts across plateaus.

The climb runs compiled on an incremental schedule
(`qsched.incremental.schedule.Schedule`): a proposal costs O(1) to O(log M)
instead of a full evaluation, and a million of them take about a second at
10,000 x 256. It goes in batches, so the budget is looked at every few
milliseconds; each proposal counts as one evaluation, and the schedule a
batch ends on is scored by the one evaluator when it changed.
"""

from __future__ import annotations

import time

import numpy as np

from qsched.evaluate import Evaluation
from qsched.incremental.climb import LEVEL_MOVE_RATE
from qsched.incremental.schedule import Schedule
from qsched.problem import Problem
from qsched.solver import SolveTracker

__all__ = ["LEVEL_MOVE_RATE", "can_move", "hill_climb"]

#: Proposals in the first batch; batches double while one takes under `BATCH_SECONDS`
#: (always, without a wall budget), up to `LARGEST_BATCH`.
FIRST_BATCH = 64
BATCH_SECONDS = 0.02
LARGEST_BATCH = 1 << 16


def can_move(problem: Problem) -> bool:
    """Whether the neighbourhood has anything to change."""
    return problem.num_machines > 1 or bool(problem.level_count.max() > 1)


def hill_climb(
    tracker: SolveTracker,
    current: Evaluation,
    rng: np.random.Generator,
    steps: int | None = None,
    stage: str = "search",
) -> Evaluation:
    """Accept-if-not-worse proposals from ``current`` for ``steps`` steps (or until the budget
    ends); returns the evaluation of where it ended.

    The proposals are drawn from a generator seeded by ``rng``, so the same
    ``rng`` state gives the same climb however the batches fall.
    """
    problem = tracker.problem
    if not can_move(problem):
        return current
    schedule = Schedule(problem, current.assignment, current.levels)
    seed = np.array([rng.integers(1 << 63)], dtype=np.uint64)
    batch, taken = FIRST_BATCH, 0
    # Without a wall budget, batch sizes must not depend on the clock: the schedule a batch
    # ends on is what the tracker sees, and the result must not depend on machine load.
    untimed = tracker.budget.wall_seconds is None
    while not tracker.exhausted and (steps is None or taken < steps):
        size = min(batch, tracker.evaluations_left, steps - taken if steps is not None else batch)
        started = time.perf_counter()
        accepted = schedule.climb(size, seed)
        taken += size
        if accepted:
            current = tracker.evaluate(schedule.assignment, schedule.levels, stage, spent=size)
        else:
            tracker.spend(size)
        if untimed or time.perf_counter() - started < BATCH_SECONDS:
            batch = min(2 * batch, LARGEST_BATCH)
    return current
