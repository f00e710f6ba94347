"""Search operators shared by the local search, GA, PSO and ACO.

All of them work on the same encoding, a machine index per task plus a DVFS
level per machine, and score candidates only through `Search.evaluate`:

- `propose`: one random neighbour (move, swap, or DVFS change);
- `hill_climb`: accept-if-not-worse steps from a schedule, for a step budget;
- `repair`: make capacity violations go away by moving tasks, then slow
  machines down one DVFS step at a time while the power cap is exceeded.
"""

from __future__ import annotations

import numpy as np

from qsched.evaluate import TOLERANCE, Evaluation, machine_loads, over_capacity
from qsched.problem import Problem
from qsched.solver import Search

#: Share of proposals that change a machine's DVFS level instead of moving tasks.
LEVEL_MOVE_RATE = 0.1


def propose(rng: np.random.Generator, problem: Problem, current: Evaluation) -> tuple[np.ndarray, np.ndarray]:
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


def can_move(problem: Problem) -> bool:
    """Whether `propose` has anything to change."""
    return problem.num_machines > 1 or bool(problem.level_count.max() > 1)


def hill_climb(search: Search, current: Evaluation, rng: np.random.Generator, steps: int | None = None, stage: str = "search") -> Evaluation:
    """Accept-if-not-worse neighbours of ``current`` for ``steps`` steps (or until the budget ends)."""
    taken = 0
    while can_move(search.problem) and not search.exhausted and (steps is None or taken < steps):
        candidate = search.evaluate(*propose(rng, search.problem, current), stage=stage)
        if candidate.key <= current.key:
            current = candidate
        taken += 1
    return current


def levels_by_power(problem: Problem) -> list[np.ndarray]:
    """Per machine, its level indices from the most to the least power-hungry (by the
    dynamic-power scale, so a level with its own ``peak_watts`` is placed by its watts)."""
    return [np.argsort(-problem.dynamic_scale[m, : problem.level_count[m]], kind="stable") for m in range(problem.num_machines)]


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
    busy = np.bincount(assignment, weights=problem.etc[np.arange(problem.num_tasks), assignment], minlength=problem.num_machines)
    for machine in over:
        violated = over_capacity(load[machine], problem.capacity[machine])
        tasks = np.flatnonzero(assignment == machine)
        share = problem.demand[np.ix_(tasks, np.flatnonzero(violated))] / np.maximum(problem.capacity[machine, violated], TOLERANCE)
        for task in tasks[np.argsort(-share.sum(axis=1), kind="stable")]:
            if not over_capacity(load[machine], problem.capacity[machine]).any():
                break
            fits = ~over_capacity(load + problem.demand[task], problem.capacity).any(axis=1)
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


def repair(search: Search, assignment: np.ndarray, levels: np.ndarray, order: list[np.ndarray], stage: str = "search") -> Evaluation:
    """Capacity repair, then, while over the power cap, move the machine with the highest
    mean power to its next less power-hungry DVFS level (``order`` from `levels_by_power`)."""
    problem = search.problem
    evaluation = search.evaluate(repair_capacity(problem, assignment), levels, stage)
    while evaluation.power_cap_excess > 0 and not search.exhausted:
        levels = evaluation.levels.copy()
        candidates = []
        for machine in np.flatnonzero(evaluation.powered_on):
            position = int(np.flatnonzero(order[machine] == levels[machine])[0])
            if position + 1 < len(order[machine]):
                candidates.append((evaluation.machine_energy[machine] / max(evaluation.makespan, TOLERANCE), machine, order[machine][position + 1]))
        if not candidates:
            break
        _, machine, slower = max(candidates)
        levels[machine] = slower
        evaluation = search.evaluate(evaluation.assignment, levels, stage)
    return evaluation


def upper_bounds(problem: Problem) -> np.ndarray:
    """Largest value of each gene of the flat encoding: machine per task, then level per machine."""
    return np.concatenate([np.full(problem.num_tasks, problem.num_machines - 1), problem.level_count - 1])


def flatten(evaluation: Evaluation) -> list[int]:
    """An evaluated schedule as the flat encoding (a list, as DEAP individuals are)."""
    return [*evaluation.assignment.tolist(), *evaluation.levels.tolist()]


def unflatten(problem: Problem, genes) -> tuple[np.ndarray, np.ndarray]:
    """The flat encoding back into (assignment, levels); values are clipped into range."""
    vector = np.minimum(np.maximum(np.asarray(genes, dtype=np.int64), 0), upper_bounds(problem))
    return vector[: problem.num_tasks], vector[problem.num_tasks :]


def fitness(evaluation: Evaluation) -> tuple[float, float, float]:
    """`Evaluation.key` as DEAP fitness values (all minimized)."""
    infeasible, violation, objective = evaluation.key
    return float(infeasible), violation, objective
