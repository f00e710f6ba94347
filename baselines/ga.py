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

import numpy as np
from deap import base, tools

from qsched.baselines.deap_types import Individual
from qsched.baselines.greedy import greedy_start
from qsched.baselines.operators import fitness, flatten, hill_climb, repair, levels_by_power, unflatten, upper_bounds
from qsched.problem import Problem
from qsched.registry import SolverKind, register
from qsched.solver import Budget, ProgressCallback, Result, Search


def _clone(parent: Individual) -> Individual:
    """A copy of the genes and fitness that shares the (immutable) evaluation, unlike deepcopy."""
    child = Individual(parent)
    child.fitness.values = parent.fitness.values
    child.evaluation = parent.evaluation
    return child


@register("ga", kind=SolverKind.METAHEURISTIC, finite=False)
def genetic_algorithm(
    problem: Problem,
    budget: Budget,
    seed: int,
    progress: ProgressCallback | None = None,
    *,
    population: int = 60,
    crossover: float = 0.8,
    mutation: float = 0.4,
    tournament: int = 3,
    elite: int = 2,
    start: str = "min-min",
    polish_steps: int = 100,
) -> Result:
    """Genetic algorithm (DEAP): tournament, two-point crossover, repair, elitism, greedy seed."""
    caller_state = random.getstate()
    random.seed(seed)
    try:
        return _evolve(problem, budget, seed, progress, population, crossover, mutation, tournament, elite, start, polish_steps)
    finally:
        random.setstate(caller_state)


def _evolve(problem, budget, seed, progress, population, crossover, mutation, tournament, elite, start, polish_steps) -> Result:
    rng = np.random.default_rng(seed)
    search = Search(problem, budget, progress)
    order = levels_by_power(problem)
    upper = upper_bounds(problem)
    toolbox = base.Toolbox()
    toolbox.register("mate", tools.cxTwoPoint)
    toolbox.register("mutate", tools.mutUniformInt, low=0, up=upper.tolist(), indpb=max(1.0 / len(upper), 2.0 / problem.num_tasks))
    toolbox.register("select", tools.selTournament, tournsize=tournament)
    toolbox.register("clone", _clone)

    def individual(evaluation) -> Individual:
        child = Individual(flatten(evaluation))
        child.evaluation = evaluation
        child.fitness.values = fitness(evaluation)
        return child

    def evaluated(genes) -> Individual:
        return individual(repair(search, *unflatten(problem, genes), order))

    people = [individual(greedy_start(search, start))]
    while len(people) < population and not search.exhausted:
        people.append(evaluated(rng.integers(0, upper + 1)))
    generations = 0
    while not search.exhausted:
        elites = tools.selBest(people, min(elite, len(people)))
        offspring = [toolbox.clone(p) for p in toolbox.select(people, len(people) - len(elites))]
        for first, second in zip(offspring[::2], offspring[1::2]):
            if random.random() < crossover:
                toolbox.mate(first, second)
                del first.fitness.values, second.fitness.values
        for child in offspring:
            if random.random() < mutation:
                toolbox.mutate(child)
                del child.fitness.values
        children = []
        for child in offspring:
            if search.exhausted:
                break
            children.append(child if child.fitness.valid else evaluated(child))
        best = tools.selBest(elites + children, 1)[0]
        polished = individual(hill_climb(search, best.evaluation, rng, polish_steps))
        people = [polished, *(p for p in elites + children if p is not best)]
        generations += 1
    return search.result("ga", completed=False, facts={"generations": generations, "population": population})
