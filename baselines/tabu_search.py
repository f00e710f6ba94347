"""Tabu search: the strongest classical search here, for problems of any size.

It starts from the rounded LP relaxation (`qsched.search.relaxation`; Min-min
beyond its size limit or time share), whose optimum it also reports as the
bound where it is one, and walks with `qsched.search.incremental.tabu`: every move
and swap of the machine that finishes last scored each iteration (O(k M +
k T) for its k tasks, each candidate in O(log M) on the incremental
schedule), and when none improves, its ejection chains (a critical task
onto a machine whose task moves on to a third), the best one not tabu
taken, and a kick from the best schedule found whenever ``patience``
iterations bring nothing new (iterated local search). Seeded, anytime
(every new best is scored and reported), and it looks at its budget and the
stop signal every few milliseconds. With ``workers`` > 1, independent walks
(worker 0's is the one-worker walk) run in threads
(`qsched.search.portfolio`) and the best answers.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np

from qsched.model.options import Option
from qsched.model.problem import Problem
from qsched.model.registry import SolverKind, register
from qsched.model.solver import Budget, ProgressCallback, Result
from qsched.search.construct import START, heuristic_start
from qsched.search.cooperation import Team
from qsched.search.neighbourhood import TABU, TabuSettings, can_move, tabu_search
from qsched.search.portfolio import WORKERS, run_workers
from qsched.search.tracker import SolveTracker


@register("tabu-search", kind=SolverKind.METAHEURISTIC, finite=False)
def tabu_search_solver(
    problem: Problem,
    budget: Budget,
    seed: int,
    progress: ProgressCallback | None = None,
    *,
    start: Annotated[str, START] = "lp",
    tenure: Annotated[
        int,
        Option(
            "iterations a moved task may not move again (plus up to as many)",
            minimum=0,
            maximum=1_000_000,
        ),
    ] = TABU.tenure,
    patience: Annotated[
        int,
        Option(
            "iterations without a new best before a kick from the best",
            minimum=1,
            maximum=1_000_000_000,
        ),
    ] = TABU.patience,
    kick: Annotated[
        int, Option("random task moves in a kick", minimum=0, maximum=1_000_000)
    ] = TABU.kick,
    samples: Annotated[
        int,
        Option(
            "random tasks whose moves are scored too, each iteration",
            minimum=0,
            maximum=1_000_000,
        ),
    ] = TABU.samples,
    workers: Annotated[int, WORKERS] = 1,
) -> Result:
    """Tabu search on the critical machine's moves, swaps and ejection chains, with kicks
    from the best."""
    settings = TabuSettings(tenure, patience, kick, samples)

    def search(tracker: SolveTracker, rng: np.random.Generator, team: Team | None) -> None:
        """An independent walk: tabu-search's workers do not meet their ``team``."""
        tabu_search(tracker, heuristic_start(tracker, start), rng, settings)

    return run_workers(
        "tabu-search", problem, budget, seed, progress, workers, search,
        completed=not can_move(problem),
    )  # fmt: skip
