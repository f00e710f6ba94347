"""The DEAP types of the GA and PSO, created once in `deap.creator`.

Fitness values are `encoding.fitness` (infeasible, violation, objective),
all minimized, so DEAP compares individuals exactly as `Evaluation.key` does.

`creator.create` makes these classes at run time, so no static tool can see
them. The type checker sees instead the classes below: the same shapes (a
list of genes or coordinates with these attributes), declared once; the
program uses the classes `creator` made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from qsched.model.evaluate import Evaluation

    class Fitness:
        """`creator.QschedFitness`: DEAP's weighted fitness, compared by weighted values."""

        #: The minimized values (`encoding.fitness`); deleting them invalidates the fitness.
        values: tuple[float, ...]
        #: Whether ``values`` are set.
        valid: bool

        def __gt__(self, other: Fitness) -> bool: ...

    class Individual(list[int]):
        """`creator.QschedIndividual`: the GA's genome (`encoding.flatten`), its fitness and
        the repaired schedule it was evaluated as (set whenever the individual is made)."""

        fitness: Fitness
        evaluation: Evaluation

    class Particle(list[float]):
        """`creator.QschedParticle`: a PSO particle's coordinates, its fitness, its speed
        (set once the swarm is seeded) and its own best position and schedule (None until
        it lands)."""

        fitness: Fitness
        speed: npt.NDArray[np.float64]
        best: Particle | None
        best_evaluation: Evaluation | None

else:
    Individual = creator.QschedIndividual
    Particle = creator.QschedParticle
