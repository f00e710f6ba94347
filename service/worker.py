"""Solves in worker processes, so a crashing or runaway solver never takes the server down.

Each solve gets a fresh process from a forkserver (started clean, with the
solvers preloaded, so forking never copies gRPC's threads). The parent and
the worker talk over a pipe:

- worker -> parent: ``("progress", ProgressEvent)`` for improvements (at most
  every `PROGRESS_INTERVAL` seconds, the latest one), then one of
  ``("result", Result)``, ``("invalid", [FieldViolation])`` or ``("error", str)``;
- parent -> worker: ``"stop"``: finish now with the best so far.

The parent sends "stop" when asked (cancel, shutdown), at the caller's
``stop_at`` (a call deadline), and at the job's own wall budget plus
`WALL_SLACK` whatever the solver does, so no solve outlives its budget. A
worker that ignores "stop" is killed after a grace period (or at ``kill_at``,
if sooner); the parent then answers from the last progress event it
received, re-evaluated with the one evaluator, or with MCT's schedule if
none came: a stopped solve always has a schedule. A worker whose parent dies
sees its pipe close and exits.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from qsched import registry
from qsched.evaluate import evaluate
from qsched.list_scheduling import list_schedule
from qsched.problem import FieldViolation, ProblemError
from qsched.service.metrics import ServiceMetrics
from qsched.solver import ProgressEvent, Result, StopReason, TracePoint
from qsched.validation import SolveJob

log = logging.getLogger(__name__)

#: Least time between two progress messages from one worker.
PROGRESS_INTERVAL = 0.1
#: How often the parent looks at the pipe, the stop signal and the clock.
POLL_SECONDS = 0.02
#: Time past its wall budget after which a solve is told to stop.
WALL_SLACK = 0.5
#: How long a worker that answered gets to exit by itself before it is killed.
EXIT_SECONDS = 2.0


@dataclass
class Outcome:
    """How a worker run ended: a result, bad input, or a failure; ``started`` is
    False when it was stopped (or refused by ``on_start``) before a worker ran."""

    result: Result | None = None
    violations: list[FieldViolation] | None = None
    error: str | None = None
    started: bool = True


def _worker_main(connection, job: SolveJob) -> None:
    """Entry point of a worker process.

    Once it answers it exits like any Python process, through
    `multiprocessing`'s finalizers, which unlink the named semaphores its
    libraries made (numba's threading layer makes one); only a worker whose
    parent went away mid-solve leaves at once, with `os._exit`.
    """
    stop = threading.Event()
    answering = threading.Event()

    def listen() -> None:
        try:
            while True:
                if connection.recv() == "stop":
                    stop.set()
        except (EOFError, OSError):
            if not answering.is_set():
                os._exit(1)  # the parent is gone: nobody wants this answer

    threading.Thread(target=listen, daemon=True).start()
    pending: ProgressEvent | None = None  # the latest improvement not sent yet
    last_sent = 0.0

    def flush() -> None:
        nonlocal pending, last_sent
        if pending is not None:
            connection.send(("progress", pending))
            pending = None
            last_sent = time.monotonic()

    def progress(event: ProgressEvent) -> None:
        nonlocal pending
        pending = event
        if time.monotonic() - last_sent >= PROGRESS_INTERVAL:
            flush()

    try:
        answer = ("result", job.run(stop, progress))
    except ProblemError as error:
        answer = ("invalid", error.violations)
    except Exception as error:  # report, never crash silently: the parent turns it into INTERNAL
        answer = ("error", f"{type(error).__name__}: {error}")
    flush()
    answering.set()  # from here on the parent closing the pipe is expected
    connection.send(answer)
    connection.close()


class WorkerPool:
    """Runs `SolveJob`s in worker processes, at most ``workers`` at a time."""

    def __init__(
        self, workers: int, grace_seconds: float = 2.0, metrics: ServiceMetrics | None = None
    ):
        self.workers = workers
        self.grace_seconds = grace_seconds
        self.metrics = metrics or ServiceMetrics()
        self._slots = threading.BoundedSemaphore(workers)
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload([__name__, *registry.BUILTIN_MODULES])
        self._lock = threading.Lock()
        self._processes: set[multiprocessing.Process] = set()

    def active_pids(self) -> list[int]:
        """Process ids of the running workers (for operators and tests)."""
        with self._lock:
            return [p.pid for p in self._processes if p.pid is not None]

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
        """Solve ``job``; ``stop`` or the monotonic time ``deadline`` ask for the best so far.

        Waits for a free slot (giving up on ``stop`` or ``deadline``), then
        calls ``on_start``, which may refuse. Returns once the worker answered,
        or was killed ``grace_seconds`` after a stop it ignored (at ``kill_at``
        at the latest). A result cut short carries why: CANCELLED for
        ``stop``, DEADLINE for ``deadline``, BUDGET for the wall budget.
        """
        while not self._slots.acquire(timeout=POLL_SECONDS):
            if stop.is_set() or (deadline is not None and time.monotonic() >= deadline):
                return Outcome(started=False)
        try:
            if not on_start():
                return Outcome(started=False)
            stops = {StopReason.BUDGET: time.monotonic() + job.wall_seconds + WALL_SLACK}
            if deadline is not None:
                stops[StopReason.DEADLINE] = deadline
            started = time.monotonic()
            self.metrics.running.inc()
            try:
                return self._supervise(job, stop, stops, kill_at, on_progress)
            finally:
                self.metrics.running.dec()
                self.metrics.solve_seconds.labels(job.solver).observe(time.monotonic() - started)
        finally:
            self._slots.release()

    def _supervise(
        self, job, stop, stops: dict[StopReason, float], kill_at, on_progress
    ) -> Outcome:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_worker_main, args=(child, job), daemon=True)
        with self._lock:
            self._processes.add(process)
        process.start()
        child.close()
        last: ProgressEvent | None = None
        received: list[TracePoint] = []
        stopped: StopReason | None = None
        stop_sent = 0.0
        try:
            while True:
                if parent.poll(POLL_SECONDS):
                    try:
                        kind, payload = parent.recv()
                    except (EOFError, OSError):
                        break  # died mid-message; handled below
                    if kind == "progress":
                        last = payload
                        received.append(payload.point)
                        on_progress(payload)
                        continue
                    if kind == "result":
                        if stopped is not None and payload.stop_reason is StopReason.CANCELLED:
                            payload = replace(payload, stop_reason=stopped)
                        return Outcome(result=payload)
                    if kind == "invalid":
                        return Outcome(violations=payload)
                    return Outcome(error=payload)
                now = time.monotonic()
                if stopped is None:
                    stopped = (
                        StopReason.CANCELLED
                        if stop.is_set()
                        else next((r for r, at in stops.items() if now >= at), None)
                    )
                    if stopped is not None:
                        parent.send("stop")
                        stop_sent = now
                elif now - stop_sent > self.grace_seconds or (
                    kill_at is not None and now >= kill_at
                ):
                    log.warning(
                        "worker %s (%s) ignored stop for %.1fs; killing it",
                        process.pid,
                        job.solver,
                        now - stop_sent,
                    )
                    process.kill()
                    self.metrics.worker_crashes.labels("killed").inc()
                    break
                if not process.is_alive() and not parent.poll():
                    break
            process.join(timeout=5)
            if stopped is not None:
                return Outcome(result=result_so_far(job, last, received, stopped))
            self.metrics.worker_crashes.labels("died").inc()
            return Outcome(error=f"solver process died (exit code {process.exitcode})")
        finally:
            parent.close()
            process.join(timeout=EXIT_SECONDS)  # one that answered exits by itself, cleaning up
            if process.is_alive():
                process.kill()
            process.join(timeout=5)
            with self._lock:
                self._processes.discard(process)


def result_so_far(
    job: SolveJob, last: ProgressEvent | None, trace: list[TracePoint], reason: StopReason
) -> Result:
    """A solve's best so far as a result, re-evaluated (the answer of a worker that had to be
    killed, and what a job keeps if its server dies); with no progress yet, MCT's schedule
    (O(T M), computed here), so a stopped solve always has one."""
    if last is not None:
        return Result(
            solver=job.solver,
            evaluation=evaluate(job.problem, last.assignment, last.levels),
            trace=tuple(trace),
            elapsed=last.point.elapsed,
            evaluations=last.point.evaluations,
            stop_reason=reason,
            facts={"killed": True},
        )
    return Result(
        solver=job.solver,
        evaluation=evaluate(job.problem, list_schedule(job.problem, "mct")),
        trace=(),
        elapsed=0.0,
        evaluations=0,
        stop_reason=reason,
        facts={"killed": True, "fallback": "mct"},
    )
