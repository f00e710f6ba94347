"""Genetic algorithm on DEAP, as a practitioner would set it up for task assignment.

Encoding: a machine index per task followed by a DVFS level per machine.
The population starts from one greedy schedule (option ``start``, as in
Braun et al.'s GA, which seeds Min-min) and random genomes. Each generation:
tournament selection, two-point crossover, uniform integer mutation, then
every child is repaired (capacity by moving tasks, power cap by slowing
machines) and evaluated; the repaired genome is written back (Lamarckian).
The ``elite`` best survive unchanged, and the best is polished with a short
hill climb (the memetic step of cellular MAs for this problem, Xhafa et al.).

DEAP's operators draw from Python's global `random`: it is seeded for the
run and restored afterwards, so runs are reproducible as long as one GA
runs in a process at a time (the service gives every solve its own process).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
from deap import base, tools

from qsched.baselines.deap_types import Individual
from qsched.baselines.encoding import fitness, flatten, unflatten, upper_bounds
from qsched.model.evaluate import Evaluation
from qsched.model.options import Option
from qsched.model.problem import FieldViolation, Problem
from qsched.model.registry import SolverKind, register
from qsched.model.solver import Budget, ProgressCallback, Result
from qsched.search.construct import START, heuristic_start
from qsched.search.neighbourhood import hill_climb
from qsched.search.repair import levels_by_power, repair
from qsched.search.tracker import SolveTracker


def _clone(parent: Individual) -> Individual:
    """A copy of the genes and fitness that shares the (immutable) evaluation, unlike deepcopy."""
    child = Individual(parent)
    child.fitness.values = parent.fitness.values
    child.evaluation = parent.evaluation
    return child


def check_ga(problem: Problem, options: Mapping[str, Any]) -> list[FieldViolation]:
    if options["elite"] >= options["population"]:
        return [
            FieldViolation(
                "options.elite", "must be less than options.population, or no child is ever made"
            )
        ]
    return []


@register("ga", kind=SolverKind.METAHEURISTIC, finite=False, check=check_ga)
def genetic_algorithm(
    problem: Problem,
    budget: Budget,
    seed: int,
    progress: ProgressCallback | None = None,
    *,
    population: Annotated[
        int, Option("individuals per generation", minimum=2, maximum=10_000)
    ] = 60,
    crossover: Annotated[
        float, Option("chance that a pair of parents is crossed over", minimum=0, maximum=1)
    ] = 0.8,
    mutation: Annotated[
        float, Option("chance that a child is mutated", minimum=0, maximum=1)
    ] = 0.4,
    tournament: Annotated[
        int, Option("individuals per selection tournament", minimum=1, maximum=10_000)
    ] = 3,
    elite: Annotated[
        int,
        Option(
            "best individuals kept unchanged (fewer than the population)", minimum=0, maximum=1_000
        ),
    ] = 2,
    start: Annotated[str, START] = "min-min",
    polish_steps: Annotated[
        int, Option("hill-climbing steps on each generation's best", minimum=0, maximum=1_000_000)
    ] = 100,
) -> Result:
    """Genetic algorithm (DEAP): tournament, two-point crossover, repair, elitism, greedy seed."""
    settings = _Settings(population, crossover, mutation, tournament, elite, start, polish_steps)
    with _python_random_seeded(seed):
        return _evolve(problem, budget, seed, progress, settings)


@dataclass(frozen=True)
class _Settings:
    """The GA's options, as checked."""

    population: int
    crossover: float
    mutation: float
    tournament: int
    elite: int
    start: str
    polish_steps: int


@contextmanager
def _python_random_seeded(seed: int) -> Iterator[None]:
    """DEAP's operators draw from the global `random`: seed it for the run, then restore it."""
    caller_state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(caller_state)


def _evolve(
    problem: Problem,
    budget: Budget,
    seed: int,
    progress: ProgressCallback | None,
    settings: _Settings,
) -> Result:
    rng = np.random.default_rng(seed)
    tracker = SolveTracker(problem, budget, progress)
    order = levels_by_power(problem)
    upper = upper_bounds(problem)
    toolbox = base.Toolbox()
    toolbox.register("mate", tools.cxTwoPoint)
    toolbox.register(
        "mutate",
        tools.mutUniformInt,
        low=0,
        up=upper.tolist(),
        indpb=max(1.0 / len(upper), 2.0 / problem.num_tasks),
    )
    toolbox.register("select", tools.selTournament, tournsize=settings.tournament)
    toolbox.register("clone", _clone)

    def individual(evaluation: Evaluation) -> Individual:
        child = Individual(flatten(evaluation))
        child.evaluation = evaluation
        child.fitness.values = fitness(evaluation)
        return child

    def evaluated(genes: npt.ArrayLike) -> Individual:
        return individual(repair(tracker, *unflatten(problem, genes), order))

    people = [individual(heuristic_start(tracker, settings.start))]
    while len(people) < settings.population and not tracker.exhausted:
        people.append(evaluated(rng.integers(0, upper + 1)))
    generations = 0
    while not tracker.exhausted:
        elites: list[Individual] = tools.selBest(people, min(settings.elite, len(people)))
        offspring: list[Individual] = [
            toolbox.clone(p) for p in toolbox.select(people, len(people) - len(elites))
        ]
        # An odd one out is not crossed.
        for first, second in zip(offspring[::2], offspring[1::2], strict=False):
            if random.random() < settings.crossover:
                toolbox.mate(first, second)
                del first.fitness.values, second.fitness.values
        for child in offspring:
            if random.random() < settings.mutation:
                toolbox.mutate(child)
                del child.fitness.values
        children: list[Individual] = []
        for child in offspring:
            if tracker.exhausted:
                break
            children.append(child if child.fitness.valid else evaluated(child))
        best: Individual = tools.selBest(elites + children, 1)[0]
        polished = individual(hill_climb(tracker, best.evaluation, rng, settings.polish_steps))
        people = [polished, *(p for p in elites + children if p is not best)]
        generations += 1
    return tracker.result(
        "ga", completed=False, facts={"generations": generations, "population": settings.population}
    )
