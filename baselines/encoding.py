"""The flat genome of the GA and PSO: a machine per task, then a DVFS level per machine.

Fitness values are `fitness` (infeasible, violation, objective), all
minimized, so DEAP compares individuals exactly as `Evaluation.key` does.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from qsched.model.evaluate import Evaluation
from qsched.model.problem import Problem


def upper_bounds(problem: Problem) -> npt.NDArray[np.int64]:
    """Largest value of each gene of the flat encoding: machine per task, then level per machine."""
    return np.concatenate(
        [np.full(problem.num_tasks, problem.num_machines - 1), problem.level_count - 1]
    )


def flatten(evaluation: Evaluation) -> list[int]:
    """An evaluated schedule as the flat encoding (a list, as DEAP individuals are)."""
    return [*evaluation.assignment.tolist(), *evaluation.levels.tolist()]


def unflatten(
    problem: Problem, genes: npt.ArrayLike
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The flat encoding back into (assignment, levels); values are clipped into range."""
    vector = np.minimum(np.maximum(np.asarray(genes, dtype=np.int64), 0), upper_bounds(problem))
    return vector[: problem.num_tasks], vector[problem.num_tasks :]


def fitness(evaluation: Evaluation) -> tuple[float, float, float]:
    """`Evaluation.key` as DEAP fitness values (all minimized)."""
    infeasible, violation, objective = evaluation.key
    return float(infeasible), violation, objective
