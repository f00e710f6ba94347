"""`qubo-sa` and `qubo-tabu`: QAOA's classical peers as solvers, on QAOA's own QUBO.

A comparison of QAOA with simulated annealing or tabu search says something
about the sampler only when everything else is equal, so these solvers are
`qaoa` with its QAOA sampler swapped for a peer's (`qsched.solvers.peers`): the
same allocation QUBO at the repaired Min-min start's levels (`decode.encode`),
the same decoding, repair and polish of the samples (`decode.polished`), the
same facts about the samples (`statistics.SampleStatistics`). ``reads`` plays
the part of QAOA's ``shots``. They stop after polishing: choosing DVFS levels
by VQE is a quantum step, so their counterpart is ``qaoa@vqe=false``.

The samplers have no qubit limit, but the QUBO is held as a dense n x n
matrix and every read sweeps all of its couplings many times, so a read costs
at least n^2 and a problem's reads grow faster than its size. So problems with
more than `MAX_CELLS` assignment variables (tasks x machines; slack bits add a
few percent) are refused before anything runs; the classical searches take any
size, and the hybrid samples windows of a large problem with the same
samplers (``hybrid@sub_solver=sa``).

Reads run in chunks of about `CHUNK_VARIABLES` / n, each seeded from the
solve's seed (so a seed gives the same samples), and a wall budget or stop
request ends the sampling between chunks: near the size limit a single read
is long enough to matter.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Annotated, Any

import numpy as np

from qsched.model.options import Option
from qsched.model.problem import FieldViolation, Problem
from qsched.model.registry import SolverKind, register
from qsched.model.solver import Budget, ProgressCallback, Result
from qsched.search.tracker import SolveTracker
from qsched.solvers.decode import Candidates, PolishSteps, encode, polished
from qsched.solvers.peers import AnnealingSampler, TabuSearchSampler
from qsched.solvers.samplers import RESTARTS, SWEEPS
from qsched.solvers.sampling import QuboModel, QuboSampler

#: Most assignment variables (tasks x machines) of a problem the peers take (module docstring).
MAX_CELLS = 2048
#: About this many variables' worth of reads per sampler call (between two budget checks).
CHUNK_VARIABLES = 1024


def check_cells(problem: Problem, options: Mapping[str, Any]) -> list[FieldViolation]:
    """Refuse problems whose QUBO would take longer to build than a solve should."""
    cells = problem.num_tasks * problem.num_machines
    if cells <= MAX_CELLS:
        return []
    return [
        FieldViolation(
            "problem.tasks",
            f"{problem.num_tasks} tasks x {problem.num_machines} machines are {cells} QUBO "
            f"variables; the QUBO peers take at most {MAX_CELLS} (each read sweeps the QUBO's "
            "n x n couplings); the classical heuristics and searches (min-min, tabu-search, "
            "...) and the hybrid take any size",
        )
    ]


@register("qubo-sa", kind=SolverKind.METAHEURISTIC, finite=True, check=check_cells)
def qubo_sa(
    problem: Problem,
    budget: Budget,
    seed: int,
    progress: ProgressCallback | None = None,
    *,
    reads: Annotated[
        int, Option("annealing runs, one sample each (QAOA's shots)", minimum=1, maximum=1_000_000)
    ] = 1024,
    sweeps: Annotated[
        int, Option("Metropolis sweeps per read", minimum=1, maximum=1_000_000)
    ] = SWEEPS,
    candidates: Candidates = 8,
    polish_steps: PolishSteps = 300,
) -> Result:
    """Simulated annealing (dwave-samplers) on qaoa's QUBO, decoded, repaired and polished as
    qaoa's samples are."""
    sampler = AnnealingSampler(sweeps)
    settings = {"sweeps": sweeps}
    return _solve(
        problem, budget, seed, progress, sampler, reads, candidates, polish_steps, settings
    )


@register("qubo-tabu", kind=SolverKind.METAHEURISTIC, finite=True, check=check_cells)
def qubo_tabu(
    problem: Problem,
    budget: Budget,
    seed: int,
    progress: ProgressCallback | None = None,
    *,
    reads: Annotated[
        int,
        Option("multistart tabu searches, one sample each", minimum=1, maximum=1_000_000),
    ] = 64,
    restarts: Annotated[
        int, Option("tabu search restarts per read", minimum=0, maximum=1_000_000)
    ] = RESTARTS,
    candidates: Candidates = 8,
    polish_steps: PolishSteps = 300,
) -> Result:
    """Tabu search (dwave-samplers, Palubeckis' multistart) on qaoa's QUBO, decoded, repaired
    and polished as qaoa's samples are.

    Fewer reads than qaoa's shots by default: each read is a whole multistart
    search of at least 500,000 variable updates that mostly ends in the same
    low states.
    """
    sampler = TabuSearchSampler(restarts)
    settings = {"restarts": restarts}
    return _solve(
        problem, budget, seed, progress, sampler, reads, candidates, polish_steps, settings
    )


def _solve(
    problem: Problem,
    budget: Budget,
    seed: int,
    progress: ProgressCallback | None,
    sampler: QuboSampler,
    reads: int,
    candidates: int,
    polish_steps: int,
    settings: dict[str, int],
) -> Result:
    """The shared pipeline around ``reads`` samples of ``sampler``; ``settings``: the
    sampler's own, as facts."""
    tracker = SolveTracker(problem, budget, progress)
    allocation, form, start = encode(problem, tracker)
    facts: dict[str, Any] = {
        "sampler": sampler.name,
        "variables": form.num_qubits,
        "penalty": form.penalty,
        **settings,
    }
    with tracker.stage("sample"):
        counts = _sample(tracker, QuboModel(form.arrays), sampler, reads, seed)
    facts["reads"] = sum(counts.values())
    _, statistics = polished(
        tracker,
        allocation,
        counts,
        start,
        seed=seed,
        candidates=candidates,
        polish_steps=polish_steps,
        stage="sample",
    )
    facts |= statistics.facts()
    facts["start_objective"] = start.objective
    return tracker.result(f"qubo-{sampler.name}", completed=not tracker.exhausted, facts=facts)


def _sample(
    tracker: SolveTracker, model: QuboModel, sampler: QuboSampler, reads: int, seed: int
) -> dict[int, int]:
    """``reads`` samples in chunks, each with its own seed drawn from ``seed``, until the reads
    are done or the budget ends (at least one chunk is sampled)."""
    chunk = max(1, CHUNK_VARIABLES // max(1, model.num_qubits))
    sizes = [min(chunk, reads - done) for done in range(0, reads, chunk)]
    seeds = np.random.default_rng(seed).integers(1 << 31, size=len(sizes))
    counts: Counter[int] = Counter()
    for size, chunk_seed in zip(sizes, seeds, strict=True):
        counts.update(sampler.sample(model, size, int(chunk_seed)).counts)
        if tracker.exhausted:
            break
    return dict(counts)
