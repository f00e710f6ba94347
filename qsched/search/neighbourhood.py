"""The neighbourhood every search shares, and hill climbing on it.

All searches work on the same encoding, a machine index per task plus a
DVFS level per machine. One step proposes one random change: with
probability `LEVEL_MOVE_RATE` a machine's DVFS level, otherwise a task
(half the time one of the machine that finishes last, since only those
shorten the makespan) swaps with a task on another machine or moves to
another machine. `hill_climb` keeps a proposal when its key (feasibility,
violation, objective) is no worse, so the search drifts across plateaus.

The climb runs compiled on an incremental schedule
(`qsched.search.incremental.schedule.Schedule`): a proposal costs O(1) to O(log M)
instead of a full evaluation, and a million of them take about a second at
10,000 x 256. It goes in batches, so the budget is looked at every few
milliseconds; each proposal counts as one evaluation, and the schedule a
batch ends on is scored by the one evaluator when it changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from qsched.model.evaluate import Evaluation
from qsched.model.problem import Problem
from qsched.search.incremental.climb import LEVEL_MOVE_RATE
from qsched.search.incremental.schedule import Schedule, TabuSearch
from qsched.search.tracker import UNLIMITED, SolveTracker

__all__ = [
    "LEVEL_MOVE_RATE",
    "TABU",
    "TabuSettings",
    "can_move",
    "hill_climb",
    "in_batches",
    "tabu_search",
]

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
    if not can_move(tracker.problem):
        return current
    schedule = Schedule(tracker.problem, current.assignment, current.levels)
    seed = np.array([rng.integers(1 << 63)], dtype=np.uint64)

    def batch(size: int) -> tuple[np.ndarray, np.ndarray] | None:
        accepted = schedule.climb(size, seed)
        return (schedule.assignment, schedule.levels) if accepted else None

    return in_batches(tracker, batch, current, steps, stage)


def tabu_search(
    tracker: SolveTracker,
    current: Evaluation,
    rng: np.random.Generator,
    settings: TabuSettings,
    steps: int | None = None,
    stage: str = "search",
) -> Evaluation:
    """`qsched.search.incremental.tabu`'s search from ``current`` for ``steps`` scored candidates
    (or until the budget ends); returns the evaluation of the best schedule it found."""
    if not can_move(tracker.problem):
        return current
    search = TabuSearch(tracker.problem, current.assignment, current.levels, **settings._asdict())
    seed = np.array([rng.integers(1 << 63)], dtype=np.uint64)

    def batch(size: int) -> tuple[np.ndarray, np.ndarray] | None:
        improved = search.run(size, seed)
        return (search.best_assignment, search.best_levels) if improved else None

    return in_batches(tracker, batch, current, steps, stage)


class TabuSettings(NamedTuple):
    """`qsched.search.incremental.tabu`'s settings (the ``tabu-search`` solver's options)."""

    tenure: int
    patience: int
    kick: int
    samples: int


#: The ``tabu-search`` solver's default settings.
TABU = TabuSettings(tenure=10, patience=200, kick=3, samples=4)

#: A batch: take this many proposals; the schedule to score if it should be, else None.
Batch = Callable[[int], "tuple[np.ndarray, np.ndarray] | None"]


def in_batches(
    tracker: SolveTracker, batch: Batch, current: Evaluation, steps: int | None, stage: str
) -> Evaluation:
    """Run ``batch`` until ``steps`` proposals (or the budget) are spent, scoring what it
    hands back; returns the last evaluation (``current`` if none).

    Batches start at `FIRST_BATCH` proposals and double while one takes under
    `BATCH_SECONDS` (always, without a wall budget), so the budget and the stop
    signal are looked at every few milliseconds.
    """
    size, taken = FIRST_BATCH, 0
    # Without a wall budget, batch sizes must not depend on the clock: the schedule a batch
    # ends on is what the tracker sees, and the result must not depend on machine load.
    untimed = tracker.budget.wall_seconds is None
    limit = UNLIMITED if steps is None else steps
    while not tracker.exhausted and taken < limit:
        proposals = min(size, tracker.evaluations_left, limit - taken)
        started = time.perf_counter()
        scored = batch(proposals)
        taken += proposals
        if scored is not None:
            current = tracker.evaluate(*scored, stage, spent=proposals)
        else:
            tracker.spend(proposals)
        if untimed or time.perf_counter() - started < BATCH_SECONDS:
            size = min(2 * size, LARGEST_BATCH)
    return current
