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

import numpy as np

from qsched.baselines.deap_types import Particle
from qsched.baselines.greedy import greedy_start
from qsched.baselines.operators import fitness, hill_climb, repair, levels_by_power, unflatten, upper_bounds
from qsched.evaluate import Evaluation
from qsched.problem import Problem
from qsched.registry import SolverKind, register
from qsched.solver import Budget, ProgressCallback, Result, Search


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
    particles: int = 30,
    inertia: float = 0.72,
    cognitive: float = 1.49,
    social: float = 1.49,
    max_speed: float = 0.25,
    start: str = "min-min",
    polish_steps: int = 100,
) -> Result:
    """Particle swarm (DEAP particles, rounding-discretized), inertia weight, greedy seed."""
    rng = np.random.default_rng(seed)
    search = Search(problem, budget, progress)
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
        evaluation = repair(search, *unflatten(problem, np.floor(particle)), order)
        land(particle, evaluation)
        return evaluation

    seeded = greedy_start(search, start)
    swarm = [Particle(_centre(seeded))]
    land(swarm[0], seeded)
    while len(swarm) < particles and not search.exhausted:
        swarm.append(Particle((rng.random(width.size) * width).tolist()))
        evaluate(swarm[-1])
    for particle in swarm:
        particle.speed = rng.uniform(-speed_limit, speed_limit)
    leader = max(swarm, key=lambda p: p.best.fitness)
    best, best_evaluation = leader.best, leader.best_evaluation
    sweeps = 0
    while not search.exhausted:
        for particle in swarm:
            if search.exhausted:
                break
            position = np.asarray(particle)
            pull_own = cognitive * rng.random(width.size) * (np.asarray(particle.best) - position)
            pull_best = social * rng.random(width.size) * (np.asarray(best) - position)
            particle.speed = np.clip(inertia * particle.speed + pull_own + pull_best, -speed_limit, speed_limit)
            particle[:] = np.clip(position + particle.speed, 0.0, width - 1e-9).tolist()
            evaluation = evaluate(particle)
            if evaluation.key < best_evaluation.key:
                best, best_evaluation = particle.best, evaluation
        polished = hill_climb(search, best_evaluation, rng, polish_steps)
        if polished.key < best_evaluation.key:
            best_evaluation = polished
            best = Particle(_centre(polished))
            best.fitness.values = fitness(polished)
        sweeps += 1
    return search.result("pso", completed=False, facts={"sweeps": sweeps, "particles": particles})
