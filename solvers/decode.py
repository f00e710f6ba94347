"""Samples of the allocation QUBO -> repaired, polished schedules: what every QUBO sampler shares.

`qaoa` and its classical peers (`qubo-sa`, `qubo-tabu`: `qsched.solvers.peer_solvers`) differ
only in where the samples come from. Everything around the sampling step is this module's,
so a comparison between them measures the sampler and nothing else:

1. `encode`: the allocation program at the repaired Min-min start's levels, its QUBO (the
   start's assignment calibrates the penalty, `allocation.TaskAllocation`), and the start;
2. `decode`: each distinct sampled assignment (most frequent first) -> a task whose row is
   not one-hot keeps its start machine -> repair -> the evaluator; its
   `statistics.SampleStatistics` say how good the samples were before any repair;
3. `polished`: the best ``candidates`` distinct schedules, each polished with
   ``polish_steps`` hill-climbing steps on the true objective.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np

from qsched.model.evaluate import Evaluation
from qsched.model.options import Option
from qsched.model.problem import Problem
from qsched.model.solver import Budget
from qsched.search.construct import repaired_start
from qsched.search.neighbourhood import hill_climb
from qsched.search.repair import levels_by_power, repair
from qsched.search.tracker import SolveTracker
from qsched.solvers.allocation import TaskAllocation
from qsched.solvers.engine import basis_bits
from qsched.solvers.qubo import PenaltyQubo
from qsched.solvers.statistics import SampleStatistics

#: The decode-and-polish options of every sampling solver (qaoa, qubo-sa, qubo-tabu), declared
#: once so the three say the same thing.
Candidates = Annotated[
    int, Option("best distinct decoded schedules that are polished", minimum=1, maximum=1_000)
]
PolishSteps = Annotated[
    int, Option("hill-climbing steps per candidate", minimum=0, maximum=1_000_000)
]


def encode(
    problem: Problem, tracker: SolveTracker | None = None
) -> tuple[TaskAllocation, PenaltyQubo, Evaluation]:
    """The allocation program at the start schedule's levels, its QUBO (`TaskAllocation.to_qubo`),
    and the start."""
    start = repaired_start(tracker or SolveTracker(problem, Budget()))
    allocation = TaskAllocation(problem, levels=start.levels, incumbent=start.assignment)
    return allocation, allocation.to_qubo(), start


def polished(
    tracker: SolveTracker,
    allocation: TaskAllocation,
    counts: dict[int, int],
    start: Evaluation,
    *,
    seed: int,
    candidates: int,
    polish_steps: int,
    stage: str,
) -> tuple[list[Evaluation], SampleStatistics]:
    """The samples ``counts`` (basis state -> count, qubit i = bit i) decoded and repaired (stage
    ``decode``; repaired schedules are reported under the sampler's ``stage``), then the best
    ``candidates`` distinct ones polished (stage ``polish``); and the samples' statistics."""
    with tracker.stage("decode"):
        decoded, statistics = decode(tracker, allocation, counts, start, stage)
    rng = np.random.default_rng(seed)
    with tracker.stage("polish"):
        finalists = [
            hill_climb(tracker, c, rng, polish_steps, stage="polish")
            for c in best_distinct(decoded, candidates)
        ]
    return finalists, statistics


def decode(
    tracker: SolveTracker,
    allocation: TaskAllocation,
    counts: dict[int, int],
    start: Evaluation,
    stage: str,
) -> tuple[list[Evaluation], SampleStatistics]:
    """Every distinct assignment among the samples (most frequent first), repaired and
    evaluated (the start if none was), and the samples' statistics.

    The first T*M QUBO bits are the program's x variables, so samples that
    differ only in slack bits name the same assignment and are scored once. A
    sample is feasible as sampled when its rows are one-hot and its assignment
    meets the program's rows (`TaskAllocation.meet_rows`).
    """
    order = levels_by_power(tracker.problem)
    tally: dict[bytes, tuple[np.ndarray, int]] = {}
    for state, count in counts.items():
        assignment = allocation.interpret(basis_bits(state, allocation.cells))
        _, seen = tally.get(assignment.tobytes(), (assignment, 0))
        tally[assignment.tobytes()] = (assignment, seen + count)
    decoded, valid = [], 0
    for assignment, count in sorted(tally.values(), key=lambda e: (-e[1], e[0].tolist())):
        if tracker.exhausted:
            break
        if np.all(assignment >= 0) and allocation.meet_rows(assignment[None, :])[0]:
            valid += count
        complete = np.where(assignment < 0, start.assignment, assignment)
        decoded.append(repair(tracker, complete, start.levels, order, stage=stage))
    shots = sum(counts.values())
    statistics = SampleStatistics(
        distinct_samples=len(counts),
        distinct_assignments=len(tally),
        feasible_sample_share=valid / shots if shots else 0.0,
        best_sample_objective=min(decoded, key=lambda e: e.key).objective if decoded else None,
    )
    return decoded or [start], statistics


def best_distinct(evaluations: list[Evaluation], count: int) -> list[Evaluation]:
    """The ``count`` best schedules with distinct assignments."""
    chosen, seen = [], set()
    for evaluation in sorted(evaluations, key=lambda e: e.key):
        key = evaluation.assignment.tobytes()
        if key not in seen:
            seen.add(key)
            chosen.append(evaluation)
        if len(chosen) == count:
            break
    return chosen
