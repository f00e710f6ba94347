"""Construction: the classic list-scheduling heuristics, and the starts the searches build on.

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
import numpy.typing as npt

from qsched.evaluate import Evaluation, over_capacity
from qsched.options import Option
from qsched.problem import Problem
from qsched.repair import levels_by_power, repair
from qsched.solver import SolveTracker

#: Chooses the next task from the (U,) best and second-best completion times.
Selector = Callable[[np.ndarray, np.ndarray], int]


def list_schedule(problem: Problem, select: Selector) -> np.ndarray:
    """Build an assignment task by task; ``select`` picks which unassigned task goes next."""
    runtime = (
        problem.etc / problem.frequency[np.arange(problem.num_machines), problem.fastest_levels]
    )
    ready = np.zeros(problem.num_machines)
    load = np.zeros_like(problem.capacity)
    unassigned = np.arange(problem.num_tasks)
    assignment = np.empty(problem.num_tasks, dtype=np.int64)
    while unassigned.size:
        completion = ready + runtime[unassigned]
        over = over_capacity(
            load[None, :, :] + problem.demand[unassigned, None, :], problem.capacity
        )
        fits: npt.NDArray[np.bool_] = ~np.any(over, axis=2)
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


HEURISTICS: dict[str, Selector] = {
    "min-min": _min_min,
    "max-min": _max_min,
    "sufferage": _sufferage,
}
#: The ``start`` option of the searches that begin at a heuristic's schedule.
START = Option("heuristic whose schedule the search starts from", choices=tuple(HEURISTICS))


def heuristic_start(tracker: SolveTracker, heuristic: str) -> Evaluation:
    """Evaluate the named heuristic's schedule (a key of `HEURISTICS`): where the searches start."""
    return tracker.evaluate(
        list_schedule(tracker.problem, HEURISTICS[heuristic]), stage="construct"
    )


def repaired_start(tracker: SolveTracker) -> Evaluation:
    """Min-min, repaired: the quantum solvers' warm start and their QUBOs' incumbent."""
    start = heuristic_start(tracker, "min-min")
    return repair(
        tracker, start.assignment, start.levels, levels_by_power(tracker.problem), stage="start"
    )
