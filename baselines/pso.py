"""Particle swarm optimization on DEAP's particle machinery, discretized by rounding.

DEAP provides the particle type (a list with ``speed``, ``best`` and a
fitness, via `deap.creator`) and the toolbox, but only continuous update
rules; it has no discrete PSO. So each particle flies in a continuous box
with one coordinate per gene of the shared encoding (machine per task, then
DVFS level per machine), and is decoded by flooring each coordinate, the
rounding discretization of integer PSO (Laskari, Parsopoulos & Vrahatis
2002) used by scheduling PSOs. The velocity rule is the inertia-weight one (Shi & Eberhart
1998) with speeds clamped per coordinate.

Decoded schedules are repaired and evaluated like the GA's; one particle
starts at the greedy schedule (option ``start``). After every sweep the
swarm's best is polished with a short hill climb and moved there, so the
swarm keeps searching around an improving schedule.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np

from qsched.baselines.deap_types import Particle
from qsched.baselines.encoding import fitness, unflatten, upper_bounds
from qsched.model.evaluate import Evaluation
from qsched.model.options import Option
from qsched.model.problem import Problem
from qsched.model.registry import SolverKind, register
from qsched.model.solver import Budget, ProgressCallback, Result
from qsched.search.construct import START, heuristic_start
from qsched.search.neighbourhood import hill_climb
from qsched.search.repair import levels_by_power, repair
from qsched.search.tracker import SolveTracker


def _landed(particle: Particle) -> tuple[Particle, Evaluation]:
    """A particle's own best position and schedule: set from the moment it is first evaluated."""
    assert particle.best is not None and particle.best_evaluation is not None, "not evaluated yet"
    return particle.best, particle.best_evaluation


def _centre(evaluation: Evaluation) -> list[float]:
    """Continuous coordinates that decode to ``evaluation``'s schedule (the middle of each cell)."""
    return [*(evaluation.assignment + 0.5).tolist(), *(evaluation.levels + 0.5).tolist()]


@register("pso", kind=SolverKind.METAHEURISTIC, finite=False)
def particle_swarm(
    problem: Problem,
    budget: Budget,
    seed: int,
    progress: ProgressCallback | None = None,
    *,
    particles: Annotated[int, Option("particles in the swarm", minimum=1, maximum=10_000)] = 30,
    inertia: Annotated[
        float, Option("share of a particle's speed it keeps each step", minimum=0, maximum=2)
    ] = 0.72,
    cognitive: Annotated[
        float, Option("pull towards the particle's own best", minimum=0, maximum=10)
    ] = 1.49,
    social: Annotated[float, Option("pull towards the swarm's best", minimum=0, maximum=10)] = 1.49,
    max_speed: Annotated[
        float,
        Option(
            "largest step per coordinate, as a share of its range",
            minimum=0,
            maximum=1,
            exclusive_minimum=True,
        ),
    ] = 0.25,
    start: Annotated[str, START] = "min-min",
    polish_steps: Annotated[
        int, Option("hill-climbing steps on each sweep's best", minimum=0, maximum=1_000_000)
    ] = 100,
) -> Result:
    """Particle swarm (DEAP particles, rounding-discretized), inertia weight, greedy seed."""
    rng = np.random.default_rng(seed)
    tracker = SolveTracker(problem, budget, progress)
    order = levels_by_power(problem)
    width = upper_bounds(problem) + 1.0
    speed_limit = max_speed * width

    def snapshot(particle: Particle) -> Particle:
        """The particle's position and fitness alone (not its speed or its own bests)."""
        copy = Particle(particle)
        copy.fitness.values = particle.fitness.values
        return copy

    def land(particle: Particle, evaluation: Evaluation) -> None:
        particle.fitness.values = fitness(evaluation)
        if particle.best is None or particle.fitness > particle.best.fitness:
            particle.best = snapshot(particle)
            particle.best_evaluation = evaluation

    def evaluate(particle: Particle) -> Evaluation:
        evaluation = repair(tracker, *unflatten(problem, np.floor(particle)), order)
        land(particle, evaluation)
        return evaluation

    seeded = heuristic_start(tracker, start)
    swarm = [Particle(_centre(seeded))]
    land(swarm[0], seeded)
    while len(swarm) < particles and not tracker.exhausted:
        swarm.append(Particle((rng.random(width.size) * width).tolist()))
        evaluate(swarm[-1])
    for particle in swarm:
        particle.speed = rng.uniform(-speed_limit, speed_limit)
    best, best_evaluation = _landed(max(swarm, key=lambda p: _landed(p)[0].fitness))
    sweeps = 0
    while not tracker.exhausted:
        for particle in swarm:
            if tracker.exhausted:
                break
            position = np.asarray(particle)
            pull_own = cognitive * rng.random(width.size) * (np.asarray(particle.best) - position)
            pull_best = social * rng.random(width.size) * (np.asarray(best) - position)
            particle.speed = np.clip(
                inertia * particle.speed + pull_own + pull_best, -speed_limit, speed_limit
            )
            particle[:] = np.clip(position + particle.speed, 0.0, width - 1e-9).tolist()
            evaluation = evaluate(particle)
            if evaluation.key < best_evaluation.key:
                best, best_evaluation = _landed(particle)[0], evaluation
        polished = hill_climb(tracker, best_evaluation, rng, polish_steps)
        if polished.key < best_evaluation.key:
            best_evaluation = polished
            best = Particle(_centre(polished))
            best.fitness.values = fitness(polished)
        sweeps += 1
    return tracker.result("pso", completed=False, facts={"sweeps": sweeps, "particles": particles})
