"""Workers that cooperate: an elite pool exchanged at deterministic epochs.

Why: independent walks side by side add little (a second tabu-search worker
adds about 0.05 points on the HCSP instances), while CP-SAT's workers win by
sharing solutions and bounds. Here each worker, after every epoch of its own
search (a count of steps, never a clock), deposits its best schedule and its
bound and waits until every worker still searching has deposited for that
epoch; then all of them read the same pool. Which schedules a worker sees thus
depends only on the epochs' counts, never on thread timing, so a seed and an
evaluation budget still give one answer. Under a wall budget a worker waits
at most until its budget ends.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from qsched.model.evaluate import Evaluation
from qsched.search.tracker import SolveTracker

#: How often a worker waiting for the others looks at its budget and stop signal (seconds).
WAIT_SECONDS = 0.02


@dataclass(frozen=True)
class Exchange:
    """What every worker reads after an epoch: the deposits, best first (ties: the lower
    worker), and the best bound any worker has."""

    elites: tuple[Evaluation, ...]
    bound: float | None


class ElitePool:
    """The workers' meeting point (one per solve; each worker calls with its own index)."""

    def __init__(self, workers: int):
        self._condition = threading.Condition()
        self._workers = workers
        self._left: set[int] = set()
        self._deposits: dict[int, dict[int, tuple[Evaluation, float | None]]] = {}
        self._epochs = [0] * workers

    def exchange(self, worker: int, tracker: SolveTracker, best: Evaluation) -> Exchange | None:
        """Deposit ``best`` and the tracker's bound for this worker's next epoch and wait for
        every other worker's deposit for it (or its leaving before it); None if this
        worker's budget ended first."""
        with self._condition:
            epoch = self._epochs[worker]
            self._epochs[worker] += 1
            deposits = self._deposits.setdefault(epoch, {})
            deposits[worker] = (best, tracker.bound)
            self._condition.notify_all()
            while not self._complete(epoch):
                if tracker.exhausted:
                    return None
                self._condition.wait(WAIT_SECONDS)
            ranked = sorted(deposits, key=lambda index: (deposits[index][0].key, index))
            bounds = [bound for _, bound in deposits.values() if bound is not None]
            return Exchange(
                tuple(deposits[index][0] for index in ranked), max(bounds, default=None)
            )

    def leave(self, worker: int) -> None:
        """``worker``'s search ended: the others stop waiting for its later deposits."""
        with self._condition:
            self._left.add(worker)
            self._condition.notify_all()

    def _complete(self, epoch: int) -> bool:
        """Whether every worker has deposited for ``epoch`` or left before reaching it."""
        deposits = self._deposits[epoch]
        return all(
            worker in deposits or (worker in self._left and self._epochs[worker] <= epoch)
            for worker in range(self._workers)
        )


@dataclass(frozen=True)
class Team:
    """A worker's place in a solve's pool: the pool, and its index there."""

    pool: ElitePool
    worker: int
