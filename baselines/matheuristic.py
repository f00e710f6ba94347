"""Matheuristic: exact sub-MIPs inside a search, the strongest classical solver here.

It starts like the tabu search (the rounded LP relaxation, whose optimum it
reports as the bound where it is one), gives back busy time with slack MIPs
over a few tasks of every machine, solves the size-reduced assignment MIP from
there, then re-optimises neighbourhoods of a few machines exactly, with
restarts (`qsched.search.matheuristic` says how and why). Seeded and anytime;
with an evaluation budget and no wall budget every MIP is limited by node
counts alone, so the same seed gives the same schedule.
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
from qsched.search.matheuristic import MatheuristicSettings, matheuristic
from qsched.search.neighbourhood import can_move
from qsched.search.portfolio import WORKERS, run_workers
from qsched.search.tracker import SolveTracker

DEFAULTS = MatheuristicSettings()


@register("matheuristic", kind=SolverKind.METAHEURISTIC, finite=False)
def matheuristic_solver(
    problem: Problem,
    budget: Budget,
    seed: int,
    progress: ProgressCallback | None = None,
    *,
    start: Annotated[str, START] = "lp",
    candidates: Annotated[
        int,
        Option(
            "machines per task in the size-reduced MIP, by LP reduced cost",
            minimum=1,
            maximum=1_000,
        ),
    ] = DEFAULTS.candidates,
    size: Annotated[
        int, Option("machines in a neighbourhood's sub-MIP at first", minimum=2, maximum=1_000)
    ] = DEFAULTS.size,
    nodes: Annotated[
        int,
        Option("branch-and-bound nodes a sub-MIP may take", minimum=1, maximum=1_000_000_000),
    ] = DEFAULTS.nodes,
    workers: Annotated[int, WORKERS] = 1,
) -> Result:
    """Slack and size-reduced MIPs, then exact machine neighbourhoods, with restarts."""
    settings = MatheuristicSettings(candidates=candidates, size=size, nodes=nodes)

    def search(tracker: SolveTracker, rng: np.random.Generator, team: Team | None) -> None:
        matheuristic(tracker, heuristic_start(tracker, start), rng, settings, team)

    return run_workers(
        "matheuristic", problem, budget, seed, progress, workers, search,
        completed=not can_move(problem),
    )  # fmt: skip
