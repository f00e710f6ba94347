"""Solves in warm worker processes, so a crashing or runaway solver never takes the server down.

The pool starts ``workers`` processes from a forkserver (started clean, with
the solvers preloaded, so forking never copies gRPC's threads) and reuses
them for solve after solve: a tiny solve costs a message, not a process. Calls
wait for a worker first come, first served. The parent and a worker talk over
a pipe, every message tagged with the solve's number:

- parent -> worker: ``("job", n, SolveJob)``; ``("stop", n)``: finish solve
  ``n`` now with the best so far;
- worker -> parent: ``("progress", n, ProgressEvent)`` for improvements (at
  most every `PROGRESS_INTERVAL` seconds, the latest one), then one of
  ``("result", n, Result)``, ``("invalid", n, [FieldViolation])`` or
  ``("error", n, str)``.

The parent sends "stop" when asked (cancel, shutdown), at the caller's
``stop_at`` (a call deadline), and at the job's own wall budget plus
`WALL_SLACK` whatever the solver does, so no solve outlives its budget. A
worker that ignores "stop" is killed after a grace period (or at ``kill_at``,
if sooner); the parent then answers from the last progress event it
received, re-evaluated with the one evaluator, or with MCT's schedule if
none came: a stopped solve always has a schedule. A worker that died, was
killed, or grew past `MAX_WORKER_RSS_BYTES` is replaced by a fresh one. A
worker whose parent dies sees its pipe close and exits.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Protocol, Self, TypeAlias

from qsched.model import registry
from qsched.model.evaluate import evaluate
from qsched.model.problem import FieldViolation, ProblemError
from qsched.model.solver import ProgressEvent, Result, StopReason, TracePoint
from qsched.model.validation import SolveJob
from qsched.search.list_scheduling import list_schedule
from qsched.service.metrics import ServiceMetrics
from qsched.service.turns import Turns

log = logging.getLogger(__name__)

#: Least time between two progress messages from one worker.
PROGRESS_INTERVAL = 0.1
#: How often the parent looks at the pipe, the stop signal and the clock.
POLL_SECONDS = 0.02
#: Time past its wall budget after which a solve is told to stop.
WALL_SLACK = 0.5
#: How long a retired worker gets to exit by itself before it is killed.
EXIT_SECONDS = 2.0
#: Pause between attempts to start a worker process after one failed to start.
RESPAWN_SECONDS = 1.0
#: A worker whose resident memory grows past this after a solve is replaced.
MAX_WORKER_RSS_BYTES = 4 * 2**30


@dataclass
class Outcome:
    """How a worker run ended: a result, bad input, or a failure; ``started`` is
    False when it was stopped (or refused by ``on_start``) before a worker ran."""

    result: Result | None = None
    violations: list[FieldViolation] | None = None
    error: str | None = None
    started: bool = True


#: A worker's last message about a solve: ``("result", n, Result)``, ``("invalid", n,
#: violations)`` or ``("error", n, message)``.
Answer: TypeAlias = tuple[str, int, Result | list[FieldViolation] | str]


class SolvePool(Protocol):
    """Where solves run: `WorkerPool` (local processes) or `ray_pool.RayPool`."""

    #: How many solves run at once.
    workers: int

    def start(self) -> Self: ...

    def close(self) -> None: ...

    def active_pids(self) -> list[int]: ...

    def run(
        self,
        job: SolveJob,
        *,
        stop: threading.Event,
        deadline: float | None = None,
        kill_at: float | None = None,
        on_start: Callable[[], bool] = ...,
        on_progress: Callable[[ProgressEvent], None] = ...,
    ) -> Outcome: ...


def _worker_main(connection: Connection) -> None:
    """Entry point of a worker process: solve the jobs the parent sends, one at a time.

    When the parent closes the pipe (retiring the worker), the worker returns and exits
    like any Python process, through `multiprocessing`'s finalizers, which unlink the
    named semaphores its libraries made (numba's threading layer makes one); only a worker
    whose parent went away mid-solve leaves at once, with `os._exit`.
    """
    stop = threading.Event()
    solving = threading.Event()
    inbox: queue.SimpleQueue[tuple[str, int, SolveJob] | None] = queue.SimpleQueue()
    current = [-1]  # the number of the solve "stop" refers to

    def listen() -> None:
        try:
            while True:
                message = connection.recv()
                if message[0] == "job":
                    current[0] = message[1]  # in order: a job's stop never comes before it
                    stop.clear()
                    inbox.put(message)
                elif message[0] == "stop" and message[1] == current[0]:
                    stop.set()
        except (EOFError, OSError):
            if solving.is_set():
                os._exit(1)  # the parent is gone mid-solve: nobody wants this answer
            inbox.put(None)

    threading.Thread(target=listen, daemon=True).start()
    while (message := inbox.get()) is not None:
        _, number, job = message
        solving.set()
        try:
            _solve_one(connection, number, job, stop)
        except OSError:
            return  # the parent went away while the answer was sent
        finally:
            solving.clear()


def _solve_one(connection: Connection, number: int, job: SolveJob, stop: threading.Event) -> None:
    pending: ProgressEvent | None = None  # the latest improvement not sent yet
    last_sent = 0.0

    def flush() -> None:
        nonlocal pending, last_sent
        if pending is not None:
            connection.send(("progress", number, pending))
            pending = None
            last_sent = time.monotonic()

    def progress(event: ProgressEvent) -> None:
        nonlocal pending
        pending = event
        if time.monotonic() - last_sent >= PROGRESS_INTERVAL:
            flush()

    try:
        answer: Answer = ("result", number, job.run(stop, progress))
    except ProblemError as error:
        answer = ("invalid", number, error.violations)
    except Exception as error:  # report, never crash silently: the parent turns it into INTERNAL
        answer = ("error", number, f"{type(error).__name__}: {error}")
    flush()
    connection.send(answer)


@dataclass
class _Worker:
    """A warm worker process and the parent's end of its pipe."""

    process: BaseProcess
    connection: Connection
    busy: bool = False

    def healthy(self) -> bool:
        return self.process.is_alive() and _rss_bytes(self.process.pid) <= MAX_WORKER_RSS_BYTES

    def retire(self) -> None:
        self.connection.close()  # the worker exits when its pipe closes
        self.process.join(timeout=EXIT_SECONDS)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)


def _rss_bytes(pid: int | None) -> int:
    """Resident memory of a process (Linux ``/proc``; 0 where it cannot be read)."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@dataclass
class StopClock:
    """When a running solve is told to stop (a stop request, the caller's deadline, its own
    wall budget plus `WALL_SLACK`) and when one that ignores the stop is given up on (the
    grace period, or ``kill_at``); shared by the worker and Ray pools."""

    stop: threading.Event
    stops: dict[StopReason, float]
    grace_seconds: float
    kill_at: float | None
    reason: StopReason | None = None
    sent_at: float = 0.0

    @classmethod
    def start(
        cls,
        job: SolveJob,
        stop: threading.Event,
        deadline: float | None,
        grace_seconds: float,
        kill_at: float | None,
    ) -> StopClock:
        stops = {StopReason.BUDGET: time.monotonic() + job.wall_seconds + WALL_SLACK}
        if deadline is not None:
            stops[StopReason.DEADLINE] = deadline
        return cls(stop, stops, grace_seconds, kill_at)

    def tick(self) -> str | None:
        """``"stop"`` when the solve must be told to stop now, ``"kill"`` when its grace is
        over, None otherwise."""
        now = time.monotonic()
        if self.reason is None:
            self.reason = (
                StopReason.CANCELLED
                if self.stop.is_set()
                else next((r for r, at in self.stops.items() if now >= at), None)
            )
            if self.reason is None:
                return None
            self.sent_at = now
            return "stop"
        overdue = now - self.sent_at > self.grace_seconds
        return "kill" if overdue or (self.kill_at is not None and now >= self.kill_at) else None


def answered(kind: str, payload: Any, stopped: StopReason | None) -> Outcome:
    """A worker's or task's answer as an `Outcome`; a result the stop cut short says why."""
    if kind == "result":
        if stopped is not None and payload.stop_reason is StopReason.CANCELLED:
            payload = replace(payload, stop_reason=stopped)
        return Outcome(result=payload)
    if kind == "invalid":
        return Outcome(violations=payload)
    return Outcome(error=payload)


@contextlib.contextmanager
def solving(metrics: ServiceMetrics, job: SolveJob) -> Iterator[None]:
    """Counts a running solve and its wall time by solver."""
    started = time.monotonic()
    metrics.running.inc()
    try:
        yield
    finally:
        metrics.running.dec()
        metrics.solve_seconds.labels(job.solver).observe(time.monotonic() - started)


class WorkerPool:
    """Runs `SolveJob`s on ``workers`` warm worker processes, first come, first served."""

    def __init__(
        self, workers: int, grace_seconds: float = 2.0, metrics: ServiceMetrics | None = None
    ):
        self.workers = workers
        self.grace_seconds = grace_seconds
        self.metrics = metrics or ServiceMetrics()
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload([__name__, *registry.BUILTIN_MODULES])
        self._lock = threading.Lock()
        self._all: list[_Worker] = []
        self._turns: Turns[_Worker] = Turns()
        self._numbers = itertools.count()

    def start(self) -> WorkerPool:
        """Start the workers (each forked from the preloaded forkserver)."""
        for _ in range(self.workers):
            self._release(self._new_worker())
        return self

    def close(self) -> None:
        """Stop the idle workers; busy ones are retired when their solve ends."""
        for worker in self._turns.close():
            worker.retire()

    def worker_pids(self) -> list[int]:
        """Process ids of every worker, busy or idle."""
        with self._lock:
            return [w.process.pid for w in self._all if w.process.pid is not None]

    def active_pids(self) -> list[int]:
        """Process ids of the workers running a solve now (for operators and tests)."""
        with self._lock:
            return [w.process.pid for w in self._all if w.busy and w.process.pid is not None]

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

        Waits for a worker in arrival order (giving up on ``stop`` or
        ``deadline``), then calls ``on_start``, which may refuse. Returns once
        the worker answered, or was killed ``grace_seconds`` after a stop it
        ignored (at ``kill_at`` at the latest). A result cut short carries why:
        CANCELLED for ``stop``, DEADLINE for ``deadline``, BUDGET for the wall
        budget.
        """
        worker = self._turns.take(stop, deadline)
        while worker is not None and not worker.process.is_alive():  # died while idle
            self.metrics.worker_crashes.labels("died").inc()
            worker = self._replace(worker) or self._turns.take(stop, deadline)
        if worker is None:
            return Outcome(started=False)
        worker.busy = True
        finished = False  # False if the solve ended in an exception: the worker may be at it
        try:
            if not on_start():
                finished = True
                return Outcome(started=False)
            clock = StopClock.start(job, stop, deadline, self.grace_seconds, kill_at)
            with solving(self.metrics, job):
                while (outcome := self._supervise(worker, job, clock, on_progress)) is None:
                    # It died while idle, seen only now: its exit reaches ``is_alive`` late.
                    self.metrics.worker_crashes.labels("died").inc()
                    fresh = self._replace(worker)
                    if fresh is None:
                        finished = True  # nothing left to replace; a respawn is on its way
                        return Outcome(error="no worker process could be started")
                    worker = fresh
                    worker.busy = True
            finished = True
            return outcome
        finally:
            if finished and worker.healthy():
                self._release(worker)
            elif worker in self._all and (fresh := self._replace(worker)) is not None:
                self._release(fresh)

    def _new_worker(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_worker_main, args=(child,), daemon=True)
        process.start()
        child.close()
        worker = _Worker(process, parent)
        with self._lock:
            self._all.append(worker)
        return worker

    def _replace(self, worker: _Worker) -> _Worker | None:
        """A fresh worker for one that died, was killed, grew too large or may still be busy;
        None if none could be started now (one is then started in the background, so the
        pool never shrinks for good)."""
        with self._lock:
            self._all.remove(worker)
        worker.retire()
        try:
            return self._new_worker()
        except OSError:
            log.exception("could not start a worker process; retrying in the background")
            threading.Thread(target=self._respawn, daemon=True).start()
            return None

    def _respawn(self) -> None:
        """Start a worker, retrying every `RESPAWN_SECONDS`, and hand it out."""
        while True:
            time.sleep(RESPAWN_SECONDS)
            try:
                worker = self._new_worker()
            except OSError:
                continue
            self._release(worker)
            return

    def _release(self, worker: _Worker) -> None:
        """Hand ``worker`` to the next call in line (or retire it, once the pool is closed)."""
        worker.busy = False
        if not self._turns.put(worker):
            worker.retire()

    def _supervise(
        self,
        worker: _Worker,
        job: SolveJob,
        clock: StopClock,
        on_progress: Callable[[ProgressEvent], None],
    ) -> Outcome | None:
        """Run ``job`` on ``worker`` until it answers, stops or dies; None if the worker
        was gone before it could take the job (so another can)."""
        number = next(self._numbers)
        connection, process = worker.connection, worker.process
        last: ProgressEvent | None = None
        received: list[TracePoint] = []
        try:
            connection.send(("job", number, job))
        except (OSError, ValueError):
            return None
        while True:
            if connection.poll(POLL_SECONDS):
                try:
                    kind, about, payload = connection.recv()
                except (EOFError, OSError):
                    break  # died mid-message; handled below
                if about != number:
                    continue  # an answer to an earlier, abandoned solve
                if kind != "progress":
                    return answered(kind, payload, clock.reason)
                last = payload
                received.append(payload.point)
                on_progress(payload)
                continue
            action = clock.tick()
            if action == "stop":
                connection.send(("stop", number))
            elif action == "kill":
                log.warning(
                    "worker %s (%s) ignored stop for %.1fs; killing it",
                    process.pid,
                    job.solver,
                    time.monotonic() - clock.sent_at,
                )
                process.kill()
                self.metrics.worker_crashes.labels("killed").inc()
                break
            if not process.is_alive() and not connection.poll():
                break
        process.join(timeout=5)
        if clock.reason is not None:
            return Outcome(result=result_so_far(job, last, received, clock.reason))
        self.metrics.worker_crashes.labels("died").inc()
        return Outcome(error=f"solver process died (exit code {process.exitcode})")


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
