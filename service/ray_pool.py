"""Solves as Ray tasks (``qsched serve --executor ray [--ray-address ADDR]``), for operators
whose solves outgrow one machine.

The same contract as `worker.WorkerPool`: at most ``workers`` solves at once, handed out
first come, first served; progress streamed back; "stop" at the budget, the deadline, a
cancel or shutdown; a task that ignores it is cancelled after the grace period and the
answer is its best so far. Progress and stop signals go through one mailbox actor per pool
(a task polls its stop flag a few times a second and posts improvements at most every
`worker.PROGRESS_INTERVAL` seconds).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from qsched.model.problem import ProblemError
from qsched.model.solver import ProgressEvent, StopReason, TracePoint
from qsched.model.validation import SolveJob
from qsched.service.metrics import ServiceMetrics
from qsched.service.turns import Turns
from qsched.service.worker import (
    PROGRESS_INTERVAL,
    Outcome,
    StopClock,
    answered,
    result_so_far,
    solving,
)

#: How often the parent reads a task's progress and state, and a task its stop flag.
RAY_POLL_SECONDS = 0.1


class Mailbox:
    """A Ray actor: stop flags and progress events of the pool's running solves."""

    def __init__(self) -> None:
        self._stopped: set[int] = set()
        self._progress: defaultdict[int, list[ProgressEvent]] = defaultdict(list)

    def stop(self, number: int) -> None:
        self._stopped.add(number)

    def stopped(self, number: int) -> bool:
        return number in self._stopped

    def post(self, number: int, event: ProgressEvent) -> None:
        self._progress[number].append(event)

    def take(self, number: int) -> list[ProgressEvent]:
        return self._progress.pop(number, [])

    def forget(self, number: int) -> None:
        self._stopped.discard(number)
        self._progress.pop(number, None)


def solve_on_ray(job: SolveJob, number: int, mailbox: Any) -> tuple[str, Any]:
    """The Ray task: ``job`` with its stop flag and progress wired to the mailbox."""
    import ray

    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(RAY_POLL_SECONDS):
            if ray.get(mailbox.stopped.remote(number)):
                stop.set()

    threading.Thread(target=watch, daemon=True).start()
    last_sent = [0.0]
    pending: list[ProgressEvent] = []  # the latest improvement not posted yet

    def post() -> None:
        if pending:
            mailbox.post.remote(number, pending.pop())
            last_sent[0] = time.monotonic()

    def progress(event: ProgressEvent) -> None:
        pending[:] = [event]
        if time.monotonic() - last_sent[0] >= PROGRESS_INTERVAL:
            post()

    try:
        return "result", job.run(stop, progress)
    except ProblemError as error:
        return "invalid", error.violations
    except Exception as error:  # reported, as a worker process reports it
        return "error", f"{type(error).__name__}: {error}"
    finally:
        post()
        stop.set()


class RayPool:
    """Runs `SolveJob`s as Ray tasks, at most ``workers`` at a time."""

    def __init__(
        self,
        workers: int,
        grace_seconds: float = 2.0,
        metrics: ServiceMetrics | None = None,
        address: str | None = None,
    ):
        self.workers = workers
        self.grace_seconds = grace_seconds
        self.metrics = metrics or ServiceMetrics()
        self.address = address
        self._turns: Turns[int] = Turns()
        self._numbers = itertools.count()
        self._started_ray = False
        self._mailbox: Any = None
        self._task: Any = None

    def start(self) -> RayPool:
        import ray

        if not ray.is_initialized():
            ray.init(
                address=self.address,
                num_cpus=None if self.address else self.workers,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
            self._started_ray = True
        self._mailbox = ray.remote(num_cpus=0, max_restarts=-1)(Mailbox).remote()
        self._task = ray.remote(num_cpus=1)(solve_on_ray)
        for slot in range(self.workers):
            self._turns.put(slot)
        return self

    def close(self) -> None:
        import ray

        self._turns.close()
        if self._started_ray:
            ray.shutdown()

    def active_pids(self) -> list[int]:
        """Ray tasks have no process of ours to list."""
        return []

    def run(
        self,
        job: SolveJob,
        *,
        stop: threading.Event,
        deadline: float | None = None,
        kill_at: float | None = None,
        on_start: Callable[[], bool] = lambda: True,
        on_progress: Callable[[ProgressEvent], None] = lambda event: None,
    ) -> Outcome:
        """As `worker.WorkerPool.run`."""
        slot = self._turns.take(stop, deadline)
        if slot is None:
            return Outcome(started=False)
        try:
            if not on_start():
                return Outcome(started=False)
            clock = StopClock.start(job, stop, deadline, self.grace_seconds, kill_at)
            with solving(self.metrics, job):
                return self._supervise(job, clock, on_progress)
        finally:
            self._turns.put(slot)

    def _supervise(
        self, job: SolveJob, clock: StopClock, on_progress: Callable[[ProgressEvent], None]
    ) -> Outcome:
        import ray

        number = next(self._numbers)
        reference = self._task.remote(job, number, self._mailbox)
        last: ProgressEvent | None = None
        received: list[TracePoint] = []
        answered_here = False  # otherwise (an exception here) the task is cancelled on the way
        try:
            while True:
                done, _ = ray.wait([reference], timeout=RAY_POLL_SECONDS)
                for event in ray.get(self._mailbox.take.remote(number)):
                    last = event
                    received.append(event.point)
                    on_progress(event)
                if done:
                    answered_here = True
                    try:
                        kind, payload = ray.get(reference)
                    except ray.exceptions.RayError as error:
                        if clock.reason is not None:
                            break
                        self.metrics.worker_crashes.labels("died").inc()
                        return Outcome(error=f"the Ray task failed: {type(error).__name__}")
                    return answered(kind, payload, clock.reason)
                action = clock.tick()
                if action == "stop":
                    self._mailbox.stop.remote(number)
                elif action == "kill":
                    ray.cancel(reference, force=True)
                    answered_here = True
                    self.metrics.worker_crashes.labels("killed").inc()
                    break
            reason = clock.reason or StopReason.CANCELLED
            return Outcome(result=result_so_far(job, last, received, reason))
        finally:
            if not answered_here:
                ray.cancel(reference, force=True)
            self._mailbox.forget.remote(number)
