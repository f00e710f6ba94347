"""Several workers on one solve: the same search in threads, each with its own seed.

Why threads: the searches spend their time in compiled kernels that release
the GIL (`qsched.search.compiled`), so threads keep as many cores busy as processes
would, without pickling the problem or starting interpreters (which the
service's worker processes could not do anyway: they are daemons). Each
worker keeps its own tracker on the shared wall budget and stop signal, and its share
of the evaluation budget (so the workers together spend what one would); a new
best of any worker is reported as soon as it beats every earlier report, so
the solve stays anytime. The answer is the best worker's schedule (the
lowest worker on ties), so an evaluation budget still gives the same output
for the same seed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np

from qsched.model.evaluate import Evaluation
from qsched.model.options import Option
from qsched.model.problem import Problem
from qsched.model.solver import Budget, ProgressCallback, ProgressEvent, Result, TracePoint
from qsched.search.cooperation import ElitePool, Team
from qsched.search.tracker import SolveTracker

#: The most workers a solve may ask for (each is a thread with its own schedule).
MAX_WORKERS = 256
#: The ``workers`` option of the searches that run side by side.
WORKERS = Option(
    "searches run side by side (threads), each with its own seed", minimum=1, maximum=MAX_WORKERS
)
#: One worker's search: runs on its tracker with its generator until the budget ends; its
#: `Team` (None when it runs alone) is where it may exchange schedules with the others.
Search = Callable[[SolveTracker, np.random.Generator, Team | None], Any]


def _shares(budget: Budget, workers: int) -> list[Budget]:
    """Each worker's budget: the same wall time and stop, the evaluations split evenly (the
    first workers take the remainder)."""
    if budget.evaluations is None:
        return [budget] * workers
    share, extra = divmod(budget.evaluations, workers)
    return [replace(budget, evaluations=share + (w < extra)) for w in range(workers)]


def worker_rng(seed: int, worker: int) -> np.random.Generator:
    """Worker 0 draws exactly what a one-worker solve with ``seed`` draws."""
    return np.random.default_rng(seed if worker == 0 else [seed, worker])


class _BestReports:
    """Forwards a worker's new best to the caller's callback only if it beats all reports."""

    def __init__(self, progress: ProgressCallback | None):
        self._progress = progress
        self._lock = threading.Lock()
        self._best: tuple[bool, float, float] | None = None
        self.trace: list[TracePoint] = []

    def report(self, event: ProgressEvent, key: tuple[bool, float, float]) -> None:
        with self._lock:
            if self._best is not None and not key < self._best:
                return
            self._best = key
            self.trace.append(event.point)
            if self._progress is not None:
                self._progress(event)


def run_workers(
    solver: str,
    problem: Problem,
    budget: Budget,
    seed: int,
    progress: ProgressCallback | None,
    workers: int,
    search: Search,
    *,
    completed: bool,
    facts: dict[str, Any] | None = None,
) -> Result:
    """Run ``search`` in ``workers`` threads (in this one when 1) and answer with the best;
    never more workers than evaluations."""
    if budget.evaluations is not None:
        workers = max(1, min(workers, budget.evaluations))
    if workers == 1:
        tracker = SolveTracker(problem, budget, progress)
        search(tracker, worker_rng(seed, 0), None)
        return tracker.result(solver, completed=completed, facts=facts)
    reports = _BestReports(progress)
    pool = ElitePool(workers)
    trackers = [SolveTracker(problem, share) for share in _shares(budget, workers)]
    for tracker in trackers:
        tracker.progress = _forwarder(tracker, reports)
    with ThreadPoolExecutor(workers, thread_name_prefix=f"{solver}-worker") as threads:
        runs = [
            threads.submit(search, tracker, worker_rng(seed, index), Team(pool, index))
            for index, tracker in enumerate(trackers)
        ]
        for run in runs:
            run.result()
    results = [tracker.result(solver, completed=completed) for tracker in trackers]
    best = min(range(workers), key=lambda index: results[index].evaluation.key)
    return Result(
        solver=solver,
        evaluation=results[best].evaluation,
        trace=tuple(reports.trace),
        elapsed=max(result.elapsed for result in results),
        evaluations=sum(result.evaluations for result in results),
        stop_reason=results[best].stop_reason,
        bound=max((r.bound for r in results if r.bound is not None), default=None),
        stage_seconds=results[best].stage_seconds,
        facts={**(facts or {}), "workers": workers, "best_worker": best},
    )


def _forwarder(tracker: SolveTracker, reports: _BestReports) -> ProgressCallback:
    def forward(event: ProgressEvent) -> None:
        best: Evaluation | None = tracker.best
        assert best is not None
        reports.report(event, best.key)

    return forward
