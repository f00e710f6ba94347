"""Construction: the list-scheduling heuristics, and the starts the searches build on.

Min-min, Max-min and Sufferage as compared by Braun et al. (2001), and MCT,
their one-pass "minimum completion time" (`qsched.search.list_scheduling` has the
compiled kernels and their rules). Every search starts from one of them
through `heuristic_start`, which is anytime: it scores MCT's schedule first,
then advances the heuristic a slice at a time and, when the budget ends
first, finishes the remaining tasks by MCT, so a solve has a schedule within
O(T M) of its start and never runs far past its budget.
"""

from __future__ import annotations

import numpy as np

from qsched.model.evaluate import Evaluation
from qsched.model.options import Option
from qsched.search.list_scheduling import RULES, ListScheduler, list_schedule
from qsched.search.repair import levels_by_power, repair
from qsched.search.tracker import SolveTracker

#: The heuristics by name: the solvers of `baselines.greedy` and the searches' starts.
HEURISTICS = ("mct", *RULES)
#: Where a search may start: a heuristic's schedule or the rounded LP relaxation's.
STARTS = (*HEURISTICS, "lp")
#: The ``start`` option of the searches.
START = Option(
    "heuristic whose schedule the search starts from (lp: the LP relaxation, rounded)",
    choices=STARTS,
)
#: Task visits between two looks at the budget (a step visits every unassigned task): a
#: look every few milliseconds, whatever the problem's size.
VISITS_PER_SLICE = 1 << 21


def budgeted_schedule(tracker: SolveTracker, heuristic: str) -> tuple[np.ndarray, bool]:
    """The named heuristic's assignment (one of `HEURISTICS`), and whether the heuristic
    placed every task itself: when the budget ends first, the rest go by MCT."""
    scheduler = ListScheduler(tracker.problem, heuristic)
    steps = max(1, VISITS_PER_SLICE // tracker.problem.num_tasks)
    finished = scheduler.done
    while not finished and not tracker.exhausted:
        finished = scheduler.advance(steps)
    return scheduler.complete(), finished


def heuristic_start(tracker: SolveTracker, heuristic: str) -> Evaluation:
    """Where the searches start: the named heuristic's schedule, budgeted.

    MCT's schedule is scored first, in O(T M), so that a search stopped at any
    moment has an answer: at cluster scale Min-min alone takes seconds. ``"lp"``
    falls back to Min-min where `qsched.search.relaxation.relaxed_start` has no schedule, and
    takes the better of the two where the LP's time ran out before its optimum; the LP's
    bound (if it is one) becomes the tracker's.
    """
    first = tracker.evaluate(list_schedule(tracker.problem, "mct"), stage="first")
    if heuristic == "mct" or tracker.exhausted:
        return first
    relaxed = None
    if heuristic == "lp":
        from qsched.search.relaxation import relaxed_start  # HiGHS is slow to import: only here

        relaxed = relaxed_start(tracker)
        if relaxed is not None:
            tracker.bound = relaxed.bound
            if relaxed.optimal or tracker.exhausted:
                return relaxed.start
        heuristic = "min-min"
    assignment, _ = budgeted_schedule(tracker, heuristic)
    built = tracker.evaluate(assignment, stage="construct")
    return built if relaxed is None else min(relaxed.start, built, key=lambda found: found.key)


def repaired_start(tracker: SolveTracker) -> Evaluation:
    """Min-min, repaired: the quantum solvers' warm start and their QUBOs' incumbent."""
    start = heuristic_start(tracker, "min-min")
    if tracker.exhausted:
        return start
    return repair(
        tracker, start.assignment, start.levels, levels_by_power(tracker.problem), stage="start"
    )
