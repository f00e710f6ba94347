"""Jobs: accepted solves that run in the background, persisted, cancellable, watchable.

`JobManager` owns a FIFO of queued job ids and one dispatcher thread per
worker slot. Every state change is committed to the `JobStore` first and
then published to the job's watchers, so a watcher never sees a state the
store does not have.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator

from qsched.formats.messages import point_message, response_message
from qsched.model.problem import ProblemError
from qsched.model.solver import ProgressEvent, StopReason, TracePoint
from qsched.model.validation import SolveJob, problem_from, solve_job
from qsched.service.config import ServiceConfig
from qsched.service.store import INTERRUPTED_MESSAGE, TERMINAL_STATES, JobStore
from qsched.service.worker import Outcome, SolvePool, result_so_far
from qsched.v1 import scheduler_pb2

#: A running job's best schedule is saved with its progress at most this often (seconds).
BEST_SAVE_SECONDS = 1.0

log = logging.getLogger(__name__)


class QueueFullError(RuntimeError):
    pass


class JobNotFoundError(KeyError):
    pass


class JobAlreadyEndedError(RuntimeError):
    pass


class JobManager:
    def __init__(self, store: JobStore, pool: SolvePool, config: ServiceConfig) -> None:
        self.store = store
        self.pool = pool
        self.config = config
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._stops: dict[str, threading.Event] = {}
        self._cancelled: set[str] = set()
        self._closing = threading.Event()
        self._watchers: dict[str, list[queue.Queue[scheduler_pb2.JobEvent]]] = defaultdict(list)
        self._threads = [
            threading.Thread(target=self._dispatch, name=f"qsched-job-{i}", daemon=True)
            for i in range(pool.workers)
        ]
        for job_id in store.recover():
            self._enqueue(job_id)
        self._prune()
        for thread in self._threads:
            thread.start()

    def close(self) -> None:
        """Stop the dispatchers: running jobs end INTERRUPTED with their best so far,
        queued ones stay queued for the next start."""
        self._closing.set()
        with self._lock:
            for stop in self._stops.values():
                stop.set()
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=self.config.grace_seconds + 5)

    def submit(self, request: scheduler_pb2.SolveRequest, tenant: str = "") -> scheduler_pb2.Job:
        """Validate, persist and queue as ``tenant``'s; raises `ProblemError` or
        `QueueFullError`."""
        validated = solve_job(
            request,
            request.solver,
            problem_from(request, self.config.limits),
            self.config.budget_policy,
        )
        queued = self.store.count(scheduler_pb2.JOB_STATE_QUEUED)
        if queued >= self.config.max_queued_jobs:
            raise QueueFullError(
                f"{queued} jobs are queued; the limit is {self.config.max_queued_jobs}"
            )
        stored = scheduler_pb2.SolveRequest()
        stored.CopyFrom(request)
        stored.solver = validated.solver
        job = self.store.add(stored, tenant)
        self._enqueue(job.id)
        log.info("job queued", extra={"job_id": job.id, "tenant": tenant, "solver": stored.solver})
        return job

    def get(
        self, job_id: str, include_request: bool = False, tenant: str | None = None
    ) -> scheduler_pb2.Job:
        """The job (of ``tenant``, when given: another tenant's job is not found)."""
        job = self.store.get(job_id, include_request=include_request, tenant=tenant)
        if job is None:
            raise JobNotFoundError(job_id)
        return job

    def cancel(self, job_id: str, tenant: str | None = None) -> scheduler_pb2.Job:
        """Cancel a queued job at once; ask a running one to stop (it keeps its best so far)."""
        job = self.get(job_id, tenant=tenant)
        if job.state in TERMINAL_STATES:
            raise JobAlreadyEndedError(
                f"job {job_id} already ended as {scheduler_pb2.JobState.Name(job.state)}"
            )
        with self._lock:
            stop = self._stops.setdefault(job_id, threading.Event())
            self._cancelled.add(job_id)
        stop.set()
        if self.store.finish(
            job_id, scheduler_pb2.JOB_STATE_CANCELLED, only_from=scheduler_pb2.JOB_STATE_QUEUED
        ):
            self._publish_job(job_id)
        return self._wait_for_end(job_id)

    def watch(
        self, job_id: str, is_active: Callable[[], bool], tenant: str | None = None
    ) -> Iterator[scheduler_pb2.JobEvent]:
        """The job now, then its progress and state changes, until it ends or the caller leaves."""
        self.get(job_id, tenant=tenant)  # another tenant's job is not found, before any event
        inbox: queue.Queue[scheduler_pb2.JobEvent] = queue.Queue()
        with self._lock:
            self._watchers[job_id].append(inbox)
        try:
            job = self.get(job_id)
            yield scheduler_pb2.JobEvent(job=job)
            while job.state not in TERMINAL_STATES and is_active():
                try:
                    event = inbox.get(timeout=0.25)
                except queue.Empty:
                    continue
                if event.HasField("job"):
                    job = event.job
                yield event
        finally:
            with self._lock:
                self._watchers[job_id].remove(inbox)
                if not self._watchers[job_id]:
                    del self._watchers[job_id]

    def _prune(self) -> None:
        """Retention (`ServiceConfig.retain_seconds`, `max_ended_jobs`), after each job ends."""
        if self.config.retain_seconds is not None or self.config.max_ended_jobs is not None:
            self.store.prune(self.config.retain_seconds, self.config.max_ended_jobs)

    def _enqueue(self, job_id: str) -> None:
        with self._lock:
            self._stops[job_id] = threading.Event()
        self._queue.put(job_id)

    def _publish(self, job_id: str, event: scheduler_pb2.JobEvent) -> None:
        with self._lock:
            inboxes = list(self._watchers.get(job_id, ()))
        for inbox in inboxes:
            inbox.put(event)

    def _publish_job(self, job_id: str) -> None:
        job = self.store.get(job_id)
        if job is not None:  # retention may already have deleted an ended job
            self._publish(job_id, scheduler_pb2.JobEvent(job=job))

    def _wait_for_end(self, job_id: str) -> scheduler_pb2.Job:
        """The job once its dispatcher has recorded how it ended (bounded wait)."""
        pause = threading.Event()
        for _ in range(int((self.config.grace_seconds + 5) / 0.05)):
            job = self.get(job_id)
            if job.state in TERMINAL_STATES:
                return job
            pause.wait(0.05)
        return self.get(job_id)

    def _dispatch(self) -> None:
        while (job_id := self._queue.get()) is not None and not self._closing.is_set():
            try:
                self._run(job_id)
            except Exception:  # a broken job must not take its dispatcher down
                log.exception("job %s failed unexpectedly", job_id)
                self.store.finish(
                    job_id,
                    scheduler_pb2.JOB_STATE_FAILED,
                    error="internal error while running the job",
                )
            finally:
                with self._lock:
                    self._stops.pop(job_id, None)
                    self._cancelled.discard(job_id)
                try:
                    self._publish_job(job_id)
                    self._prune()
                except Exception:  # nothing here may end the dispatcher's loop
                    log.exception("after job %s", job_id)

    def _run(self, job_id: str) -> None:
        with self._lock:
            stop = self._stops[job_id]
        if stop.is_set():
            return
        request, tenant = self.store.request(job_id)
        try:
            problem = problem_from(request, self.config.limits)
            job = solve_job(request, request.solver, problem, self.config.budget_policy)
        except ProblemError as error:  # accepted under other limits before a restart
            self.store.finish(job_id, scheduler_pb2.JOB_STATE_FAILED, error=str(error))
            return

        def on_start() -> bool:
            if stop.is_set() or not self.store.mark_running(job_id):
                return False
            self._publish_job(job_id)
            return True

        trace: list[TracePoint] = []
        saver = _BestSaver(self.store, job_id, job)

        def on_progress(event: ProgressEvent) -> None:
            trace.append(event.point)
            saver.offer(event, trace)
            self._publish(job_id, scheduler_pb2.JobEvent(progress=point_message(event.point)))

        outcome = self.pool.run(job, stop=stop, on_start=on_start, on_progress=on_progress)
        saver.close()
        if outcome.started:
            self._record(job_id, job, outcome, tenant)

    def _record(self, job_id: str, job: SolveJob, outcome: Outcome, tenant: str) -> None:
        """Store how a started job ended. A job the cancel or shutdown cut short is
        CANCELLED or INTERRUPTED (keeping its best schedule); one that finished
        on its own before the stop took effect SUCCEEDED all the same."""
        with self._lock:
            cancelled = job_id in self._cancelled
        result = outcome.result
        cut_short = result is None or result.stop_reason is StopReason.CANCELLED
        if cut_short and cancelled:
            state, error = scheduler_pb2.JOB_STATE_CANCELLED, ""
        elif cut_short and self._closing.is_set():
            state, error = scheduler_pb2.JOB_STATE_INTERRUPTED, INTERRUPTED_MESSAGE
        elif result is not None:
            state, error = scheduler_pb2.JOB_STATE_SUCCEEDED, ""
        elif outcome.violations is not None:
            state, error = scheduler_pb2.JOB_STATE_FAILED, str(ProblemError(outcome.violations))
        else:
            state, error = scheduler_pb2.JOB_STATE_FAILED, outcome.error or "no result"
        response = (
            response_message(job.problem, result, job.backend) if result is not None else None
        )
        self.store.finish(job_id, state, result=response, error=error)
        fields = {"job_id": job_id, "tenant": tenant, "solver": job.solver}
        log.info("job ended", extra=fields | {"state": scheduler_pb2.JobState.Name(state)})


class _BestSaver:
    """Saves a running job's progress at once and its best schedule at most once every
    `BEST_SAVE_SECONDS`: an improvement that arrives sooner is saved when the interval is up
    (a timer), so what a crash leaves is never more than that interval behind."""

    def __init__(self, store: JobStore, job_id: str, job: SolveJob) -> None:
        self.store, self.job_id, self.job = store, job_id, job
        self._lock = threading.Lock()
        self._latest: tuple[ProgressEvent, list[TracePoint]] | None = None
        self._saved_at = -math.inf
        self._timer: threading.Timer | None = None
        self._closed = False

    def offer(self, event: ProgressEvent, trace: list[TracePoint]) -> None:
        with self._lock:
            self._latest = (event, list(trace))
            wait = self._saved_at + BEST_SAVE_SECONDS - time.monotonic()
            if wait > 0:
                self.store.save_progress(self.job_id, point_message(event.point))
                if self._timer is None and not self._closed:
                    self._timer = threading.Timer(wait, self._save_latest)
                    self._timer.daemon = True
                    self._timer.start()
                return
        self._save_latest()

    def close(self) -> None:
        """The solve ended: save what is pending (a dead worker's job keeps it), then stop."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
        self._save_latest()
        with self._lock:
            self._closed = True

    def _save_latest(self) -> None:
        with self._lock:
            self._timer = None
            if self._closed or self._latest is None:
                return
            event, trace = self._latest
            self._latest = None
            so_far = result_so_far(self.job, event, trace, StopReason.CANCELLED)
            best = response_message(self.job.problem, so_far, self.job.backend)
            self.store.save_progress(self.job_id, point_message(event.point), best)
            self._saved_at = time.monotonic()
