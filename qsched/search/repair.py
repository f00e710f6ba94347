"""Repair: from any assignment and levels towards a schedule that meets the capacities
and, as far as slowing machines down can, the power cap.

- `repair_capacity`: move tasks off over-capacity machines onto the least
  loaded machines they fit on;
- `repair`: capacity repair, then DVFS steps down on the most power-hungry
  machine while the power cap is exceeded (`levels_by_power` orders the levels).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from qsched.model.evaluate import TOLERANCE, Evaluation, machine_loads, over_capacity
from qsched.model.problem import Problem
from qsched.search.incremental.schedule import Schedule
from qsched.search.tracker import SolveTracker


def levels_by_power(problem: Problem) -> list[np.ndarray]:
    """Per machine, its level indices from the most to the least power-hungry (by the
    dynamic-power scale, so a level with its own ``peak_watts`` is placed by its watts)."""
    return [
        np.argsort(-problem.dynamic_scale[m, : problem.level_count[m]], kind="stable")
        for m in range(problem.num_machines)
    ]


def repair_capacity(problem: Problem, assignment: np.ndarray) -> np.ndarray:
    """Move tasks off over-capacity machines onto the least-loaded machines they fit on.

    On each such machine the tasks that use most of the overloaded resources
    (relative to the machine's capacity) move first; a task that fits nowhere
    stays, and the evaluator reports the violation.
    """
    if not problem.resources:
        return assignment
    assignment = assignment.copy()
    load = machine_loads(problem, assignment)
    over = np.flatnonzero(over_capacity(load, problem.capacity).any(axis=1))
    if not over.size:
        return assignment
    busy = np.bincount(
        assignment,
        weights=problem.etc[np.arange(problem.num_tasks), assignment],
        minlength=problem.num_machines,
    )
    for machine in over:
        violated = over_capacity(load[machine], problem.capacity[machine])
        tasks = np.flatnonzero(assignment == machine)
        share = problem.demand[np.ix_(tasks, np.flatnonzero(violated))] / np.maximum(
            problem.capacity[machine, violated], TOLERANCE
        )
        for task in tasks[np.argsort(-share.sum(axis=1), kind="stable")]:
            if not over_capacity(load[machine], problem.capacity[machine]).any():
                break
            overfull = over_capacity(load + problem.demand[task], problem.capacity)
            fits: npt.NDArray[np.bool_] = ~np.any(overfull, axis=1)
            fits[machine] = False
            if not fits.any():
                continue
            target = int(np.argmin(np.where(fits, busy + problem.etc[task], np.inf)))
            load[machine] -= problem.demand[task]
            load[target] += problem.demand[task]
            busy[machine] -= problem.etc[task, machine]
            busy[target] += problem.etc[task, target]
            assignment[task] = target
    return assignment


def repair(
    tracker: SolveTracker,
    assignment: np.ndarray,
    levels: np.ndarray,
    order: list[np.ndarray],
    stage: str = "search",
) -> Evaluation:
    """Capacity repair, then, while over the power cap, move the powered machine with the
    highest mean power to its next less power-hungry DVFS level (``order`` from
    `levels_by_power`). The DVFS steps run on an incremental schedule; each counts as
    one evaluation, and where they end is scored by the evaluator."""
    problem = tracker.problem
    evaluation = tracker.evaluate(repair_capacity(problem, assignment), levels, stage)
    if evaluation.power_cap_excess == 0 or tracker.exhausted:
        return evaluation
    schedule = Schedule(problem, evaluation.assignment, evaluation.levels)
    position = np.array(
        [int(np.flatnonzero(order[m] == level)[0]) for m, level in enumerate(schedule.levels)]
    )
    slower = position + 1 < np.array([len(levels) for levels in order])
    stepped = False
    while schedule.power_cap_excess > 0 and not tracker.exhausted:
        power = schedule.machine_power()
        candidates = np.flatnonzero(slower & evaluation.powered_on)
        if not candidates.size:
            break
        # The highest mean power; on a tie the higher machine index, as before.
        machine = candidates[np.lexsort((candidates, power[candidates]))[-1]]
        position[machine] += 1
        slower[machine] = position[machine] + 1 < len(order[machine])
        schedule.set_level(machine, order[machine][position[machine]])
        tracker.spend(1)
        stepped = True
    if stepped:
        evaluation = tracker.evaluate(schedule.assignment, schedule.levels, stage, spent=0)
    return evaluation
