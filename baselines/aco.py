"""Ant colony optimization: a MAX-MIN ant system (Stützle & Hoos 2000) on NumPy.

No maintained Python library builds ACO for assignment problems (the
packages on PyPI target the travelling salesman), so this is written here,
compactly. Pheromone lives on (task, machine) pairs and on (machine, DVFS
level) pairs. Each ant first picks every machine's level from the level
pheromone, then visits the tasks in its own random order and puts each on a
machine with probability proportional to pheromone^alpha * heuristic^beta,
where the heuristic is the inverse of the weighted cost of the choice:
makespan weight x the machine's completion time with the task, plus energy
weight x the task's energy there (Min-min's greedy measure, made energy
aware). Machines the task no longer fits on are avoided. All ants of an
iteration are built together, one task position at a time, and the budget is
looked at before each position: at cluster size a batch takes seconds.

Ants' schedules are repaired; the best of the iteration's ants and the best
so far is polished with a short hill climb (the daemon action) and becomes
the best so far, which alone deposits pheromone (MMAS), after evaporation;
pheromone stays within [tau_min, tau_max] so the colony keeps exploring. The
best so far starts as the greedy schedule (option ``start``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import numpy as np
import numpy.typing as npt

from qsched.model.evaluate import TOLERANCE, Evaluation, over_capacity
from qsched.model.options import Option
from qsched.model.problem import Problem
from qsched.model.registry import SolverKind, register
from qsched.model.solver import Budget, ProgressCallback, Result
from qsched.search.construct import START, heuristic_start
from qsched.search.neighbourhood import hill_climb
from qsched.search.repair import levels_by_power, repair
from qsched.search.tracker import SolveTracker

TAU_MAX = 1.0


class Colony:
    """Pheromone, heuristic information and the construction of a batch of ants."""

    def __init__(
        self,
        problem: Problem,
        rng: np.random.Generator,
        alpha: float,
        beta: float,
        evaporation: float,
    ):
        self.problem = problem
        self.rng = rng
        self.alpha, self.beta, self.evaporation = alpha, beta, evaporation
        self.tau_min = TAU_MAX / (2 * problem.num_machines)
        self.task_pheromone = np.full((problem.num_tasks, problem.num_machines), TAU_MAX)
        valid = np.arange(problem.frequency.shape[1]) < problem.level_count[:, None]
        self.level_pheromone = np.where(valid, TAU_MAX, 0.0)

    def levels(self, ants: int) -> npt.NDArray[np.int64]:
        """(ants, M) DVFS level per machine, drawn from the level pheromone."""
        weights = self.level_pheromone**self.alpha
        return np.stack([self._draw(weights) for _ in range(ants)])

    def assignments(
        self, levels: npt.NDArray[np.int64], should_stop: Callable[[], bool]
    ) -> npt.NDArray[np.int64] | None:
        """(ants, T) machine per task, one task position at a time for all ants; None if
        ``should_stop`` says so before the last position (at cluster size one batch takes
        seconds, longer than a budget's grace)."""
        problem = self.problem
        ants = levels.shape[0]
        machines = np.arange(problem.num_machines)
        frequency = problem.frequency[machines, levels]  # (ants, M)
        ready = np.zeros((ants, problem.num_machines))
        load = np.zeros((ants, *problem.capacity.shape))
        orders = np.argsort(self.rng.random((ants, problem.num_tasks)), axis=1)
        assignment = np.empty((ants, problem.num_tasks), dtype=np.int64)
        rows = np.arange(ants)
        for position in range(problem.num_tasks):
            if should_stop():
                return None
            tasks = orders[:, position]
            runtime = problem.etc[tasks] / frequency
            watts = problem.task_watts(tasks[:, None], machines[None, :], levels)
            cost = (
                problem.makespan_weight * (ready + runtime)
                + problem.energy_weight * runtime * watts
            )
            fits: npt.NDArray[np.bool_] = ~np.any(
                over_capacity(load + problem.demand[tasks][:, None, :], problem.capacity), axis=2
            )
            fits |= ~fits.any(axis=1, keepdims=True)
            weights = (
                self.task_pheromone[tasks] ** self.alpha
                * (1.0 / np.maximum(cost, TOLERANCE)) ** self.beta
            )
            chosen = self._draw(np.where(fits, weights, 0.0))
            assignment[rows, tasks] = chosen
            ready[rows, chosen] += runtime[rows, chosen]
            load[rows, chosen] += problem.demand[tasks]
        return assignment

    def _draw(self, weights: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """One index per row, with probability proportional to the row's weights."""
        cumulative = np.cumsum(weights, axis=1)
        threshold = self.rng.random(weights.shape[0]) * cumulative[:, -1]
        drawn: npt.NDArray[np.int64] = np.minimum(
            (cumulative < threshold[:, None]).sum(axis=1), weights.shape[1] - 1
        )
        return drawn

    def reinforce(self, best: Evaluation) -> None:
        """MMAS update: evaporate everywhere, deposit on the best schedule's choices, clamp."""
        tasks = np.arange(self.problem.num_tasks)
        machines = np.arange(self.problem.num_machines)
        for pheromone, chosen in (
            (self.task_pheromone, (tasks, best.assignment)),
            (self.level_pheromone, (machines, best.levels)),
        ):
            valid = pheromone > 0
            pheromone *= 1.0 - self.evaporation
            pheromone[chosen] += self.evaporation * TAU_MAX
            np.clip(pheromone, self.tau_min, TAU_MAX, out=pheromone, where=valid)


@register("aco", kind=SolverKind.METAHEURISTIC, finite=False)
def ant_colony(
    problem: Problem,
    budget: Budget,
    seed: int,
    progress: ProgressCallback | None = None,
    *,
    ants: Annotated[int, Option("ants per iteration", minimum=1, maximum=10_000)] = 10,
    alpha: Annotated[
        float, Option("weight of the pheromone in an ant's choice", minimum=0, maximum=10)
    ] = 1.0,
    beta: Annotated[
        float, Option("weight of the greedy cost in an ant's choice", minimum=0, maximum=10)
    ] = 2.0,
    evaporation: Annotated[
        float,
        Option(
            "share of the pheromone that evaporates per iteration",
            minimum=0,
            maximum=1,
            exclusive_minimum=True,
        ),
    ] = 0.1,
    start: Annotated[str, START] = "min-min",
    polish_steps: Annotated[
        int, Option("hill-climbing steps on each iteration's best", minimum=0, maximum=1_000_000)
    ] = 100,
) -> Result:
    """Ant colony (MAX-MIN ant system): pheromone on task-machine and machine-level pairs."""
    rng = np.random.default_rng(seed)
    tracker = SolveTracker(problem, budget, progress)
    order = levels_by_power(problem)
    colony = Colony(problem, rng, alpha, beta, evaporation)
    best = heuristic_start(tracker, start)
    colony.reinforce(best)
    iterations = 0
    while not tracker.exhausted:
        levels = colony.levels(ants)
        assignments = colony.assignments(levels, lambda: tracker.exhausted)
        if assignments is None:
            break
        built = []
        for assignment, machine_levels in zip(assignments, levels, strict=True):
            if tracker.exhausted:
                break
            built.append(repair(tracker, assignment, machine_levels, order))
        if not built:
            break
        best = hill_climb(tracker, min([*built, best], key=lambda e: e.key), rng, polish_steps)
        colony.reinforce(best)
        iterations += 1
    return tracker.result("aco", completed=False, facts={"iterations": iterations, "ants": ants})
