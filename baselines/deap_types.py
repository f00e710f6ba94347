"""The DEAP types of the GA and PSO, created once in `deap.creator`.

Fitness values are `encoding.fitness` (infeasible, violation, objective),
all minimized, so DEAP compares individuals exactly as `Evaluation.key` does.
"""

from deap import base, creator

if not hasattr(creator, "QschedFitness"):
    creator.create("QschedFitness", base.Fitness, weights=(-1.0, -1.0, -1.0))
if not hasattr(creator, "QschedIndividual"):
    creator.create("QschedIndividual", list, fitness=creator.QschedFitness, evaluation=None)
if not hasattr(creator, "QschedParticle"):
    creator.create(
        "QschedParticle",
        list,
        fitness=creator.QschedFitness,
        speed=None,
        best=None,
        best_evaluation=None,
    )

Individual = creator.QschedIndividual
Particle = creator.QschedParticle
