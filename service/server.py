"""The gRPC server: `SchedulerService`, health checking and reflection.

`Server` wires the pieces (SQLite job store, worker pool, job manager) and
binds a grpcio server whose interceptors (`qsched.service.interceptors`) count,
decode and authorize every call before its handler runs. Handlers validate
first (INVALID_ARGUMENT with field violations), run solves in worker
processes, and map every failure to a status code; nothing a client sends can
make a handler raise.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import replace
from pathlib import Path
from types import TracebackType

import grpc
from google.rpc import code_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from qsched.formats.messages import failed_response, invalid_status, response_message, solver_info
from qsched.formats.report import best_bound
from qsched.model import registry
from qsched.model.problem import FieldViolation, ProblemError
from qsched.model.validation import SolveJob, problem_from, solve_job
from qsched.service import interceptors
from qsched.service.auth import SCHEDULER_PERMISSIONS, Authenticator
from qsched.service.config import ServiceConfig
from qsched.service.errors import abort_invalid, abort_with
from qsched.service.interceptors.authentication import caller
from qsched.service.jobs import JobAlreadyEndedError, JobManager, JobNotFoundError, QueueFullError
from qsched.service.metrics import ServiceMetrics
from qsched.service.store import JobStore
from qsched.service.tls import ServerTLS, is_loopback
from qsched.service.worker import Outcome, SolvePool, WorkerPool
from qsched.v1 import scheduler_pb2, scheduler_pb2_grpc

log = logging.getLogger(__name__)

SERVICE = scheduler_pb2.DESCRIPTOR.services_by_name["SchedulerService"]
SERVICE_NAME = SERVICE.full_name
MAX_PAGE_SIZE = 1000
#: Job ids are 32 hex digits; a longer one is refused before it is looked up or quoted.
MAX_JOB_ID_LENGTH = 64
DEFAULT_PAGE_SIZE = 100


def call_window(context: grpc.ServicerContext) -> tuple[float | None, float | None]:
    """(stop, kill) monotonic times that let the answer reach the caller before its deadline.

    The solve is told to stop a margin before the deadline (10% of the time
    left plus 0.1 s, at most 1 s); a worker that ignores that is killed with a
    third of the margin left, so its best-so-far still goes out in time.
    """
    remaining = context.time_remaining()
    if remaining is None or remaining > 1e9:
        return None, None
    margin = min(1.0, 0.1 + 0.1 * remaining)
    now = time.monotonic()
    return now + max(0.0, remaining - margin), now + max(0.0, remaining - margin / 3)


def _checked_job_id(context: grpc.ServicerContext, job_id: str) -> str:
    if len(job_id) > MAX_JOB_ID_LENGTH:
        abort_invalid(
            context,
            [FieldViolation("job_id", f"is {len(job_id)} characters; job ids are 32 hex digits")],
        )
    return job_id


def _failure_status(
    job: SolveJob, outcome: Outcome, stop: threading.Event, deadline: float | None
) -> status_pb2.Status:
    """The status a solve that ended without a schedule answers with."""
    if outcome.violations is not None:
        return invalid_status(outcome.violations)
    if deadline is not None and time.monotonic() >= deadline:
        return status_pb2.Status(
            code=code_pb2.DEADLINE_EXCEEDED,
            message=f"{job.solver} found no schedule before the deadline",
        )
    if stop.is_set():
        return status_pb2.Status(code=code_pb2.CANCELLED, message="the call was cancelled")
    return status_pb2.Status(
        code=code_pb2.INTERNAL, message=f"{job.solver} failed: {outcome.error}"
    )


class SchedulerServicer(scheduler_pb2_grpc.SchedulerServiceServicer):
    """The `SchedulerService` handlers: they validate, solve and answer. Around each, the
    interceptors (`interceptors.for_service`) count the call, turn what it raises into
    INTERNAL, refuse undecodable requests and admit the caller, which it reads with
    `caller()` (jobs belong to tenants)."""

    def __init__(self, pool: SolvePool, jobs: JobManager, config: ServiceConfig) -> None:
        self.pool = pool
        self.jobs = jobs
        self.config = config
        self._lock = threading.Lock()
        self._calls: set[threading.Event] = set()

    def stop_calls(self) -> None:
        """Ask every running unary solve to answer now with its best so far (server shutdown)."""
        with self._lock:
            for stop in self._calls:
                stop.set()

    def _run(
        self,
        job: SolveJob,
        context: grpc.ServicerContext,
        deadline: float | None,
        kill_at: float | None,
    ) -> scheduler_pb2.SolveResponse:
        """One solve for a unary call: stops at ``deadline``, on shutdown, or when the client
        leaves. A solve that ends without a schedule gives a response with only its ``error``."""
        stop = threading.Event()
        context.add_callback(stop.set)
        with self._lock:
            self._calls.add(stop)
        started = time.monotonic()
        try:
            outcome = self.pool.run(job, stop=stop, deadline=deadline, kill_at=kill_at)
        finally:
            with self._lock:
                self._calls.discard(stop)
        if outcome.result is not None:
            return response_message(job.problem, outcome.result, job.backend)
        error = _failure_status(job, outcome, stop, deadline)
        if error.code == code_pb2.INTERNAL:
            log.error("solve with %s failed: %s", job.solver, outcome.error)
        return failed_response(job.solver, job.backend, error, time.monotonic() - started)

    def Solve(
        self, request: scheduler_pb2.SolveRequest, context: grpc.ServicerContext
    ) -> scheduler_pb2.SolveResponse:
        try:
            job = solve_job(
                request,
                request.solver,
                problem_from(request, self.config.limits),
                self.config.budget_policy,
            )
        except ProblemError as error:
            abort_invalid(context, error.violations)
        response = self._run(job, context, *call_window(context))
        if response.HasField("error"):
            abort_with(context, response.error)
        return response

    def Compare(
        self, request: scheduler_pb2.CompareRequest, context: grpc.ServicerContext
    ) -> scheduler_pb2.CompareResponse:
        """Solvers one after another; under a deadline each gets an equal share of the time left."""
        if not request.solvers:
            abort_invalid(context, [FieldViolation("solvers", "must name at least one solver")])
        try:
            problem = problem_from(request, self.config.limits)
            policy = self.config.budget_policy
            jobs = [
                solve_job(request, name, problem, policy, f"solvers[{i}]", comparing=True)
                for i, name in enumerate(request.solvers)
            ]
        except ProblemError as error:
            abort_invalid(context, error.violations)
        end, kill_end = call_window(context)
        results = []
        for i, job in enumerate(jobs):
            deadline = kill_at = None
            if end is not None and kill_end is not None:
                deadline = time.monotonic() + max(0.0, end - time.monotonic()) / (len(jobs) - i)
                kill_at = min(deadline + self.config.grace_seconds, kill_end)
            results.append(self._run(job, context, deadline, kill_at))
            if not context.is_active():
                context.abort(grpc.StatusCode.CANCELLED, "the call was cancelled")
        return scheduler_pb2.CompareResponse(results=results, best_bound=best_bound(results))

    def SubmitJob(
        self, request: scheduler_pb2.SubmitJobRequest, context: grpc.ServicerContext
    ) -> scheduler_pb2.Job:
        try:
            return self.jobs.submit(request.request, caller().tenant)
        except ProblemError as error:
            abort_invalid(
                context, [replace(v, field=f"request.{v.field}") for v in error.violations]
            )
        except QueueFullError as error:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(error))

    def GetJob(
        self, request: scheduler_pb2.GetJobRequest, context: grpc.ServicerContext
    ) -> scheduler_pb2.Job:
        try:
            return self.jobs.get(
                _checked_job_id(context, request.job_id),
                include_request=request.include_request,
                tenant=caller().job_tenant,
            )
        except JobNotFoundError:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no job {request.job_id!r}")

    def WatchJob(
        self, request: scheduler_pb2.WatchJobRequest, context: grpc.ServicerContext
    ) -> Iterator[scheduler_pb2.JobEvent]:
        try:
            job_id = _checked_job_id(context, request.job_id)
            yield from self.jobs.watch(job_id, context.is_active, caller().job_tenant)
        except JobNotFoundError:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no job {request.job_id!r}")

    def CancelJob(
        self, request: scheduler_pb2.CancelJobRequest, context: grpc.ServicerContext
    ) -> scheduler_pb2.Job:
        try:
            return self.jobs.cancel(_checked_job_id(context, request.job_id), caller().job_tenant)
        except JobNotFoundError:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no job {request.job_id!r}")
        except JobAlreadyEndedError as error:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(error))

    def ListJobs(
        self, request: scheduler_pb2.ListJobsRequest, context: grpc.ServicerContext
    ) -> scheduler_pb2.ListJobsResponse:
        size = request.page_size or DEFAULT_PAGE_SIZE
        if size > MAX_PAGE_SIZE:
            abort_invalid(context, [FieldViolation("page_size", f"must be <= {MAX_PAGE_SIZE}")])
        if request.state and request.state not in scheduler_pb2.JobState.values():
            abort_invalid(context, [FieldViolation("state", "is not a JobState")])
        before = None
        if request.page_token:
            token = request.page_token
            if not (token.isascii() and token.isdecimal() and len(token) <= 18):
                abort_invalid(
                    context, [FieldViolation("page_token", "is not a token from ListJobs")]
                )
            before = int(token)
        jobs, next_seq = self.jobs.store.list(request.state, size, before, caller().job_tenant)
        return scheduler_pb2.ListJobsResponse(
            jobs=jobs, next_page_token="" if next_seq is None else str(next_seq)
        )

    def ListSolvers(
        self, request: scheduler_pb2.ListSolversRequest, context: grpc.ServicerContext
    ) -> scheduler_pb2.ListSolversResponse:
        limits = self.config.limits
        return scheduler_pb2.ListSolversResponse(
            solvers=[solver_info(spec) for spec in registry.available()],
            max_tasks=limits.max_tasks,
            max_machines=limits.max_machines,
            max_wall_seconds=self.config.max_wall_seconds,
        )


def _pool(config: ServiceConfig, metrics: ServiceMetrics) -> SolvePool:
    """Where solves run: warm local worker processes, or Ray tasks (imported only then)."""
    if config.executor == "ray":
        from qsched.service.ray_pool import RayPool

        return RayPool(config.workers, config.grace_seconds, metrics, config.ray_address)
    return WorkerPool(config.workers, config.grace_seconds, metrics)


class Server:
    """A running qsched gRPC server; ``port`` is the bound port (useful with port 0)."""

    def __init__(
        self,
        address: str,
        db_path: Path | str,
        config: ServiceConfig = ServiceConfig(),
        tls: ServerTLS | None = None,
        *,
        insecure: bool = False,
        auth: Authenticator | None = None,
        reflection_on: bool = True,
        metrics_address: str | None = None,
    ) -> None:
        if tls is None and not insecure and not is_loopback(address):
            raise ValueError(
                f"without TLS qsched listens only on loopback, not {address}: give "
                "--tls-cert and --tls-key, or --insecure to serve plaintext on the network"
            )
        self.config = config
        registry.available()  # import every solver now, not in the first request that names it
        self.store = JobStore(db_path)
        self.metrics = ServiceMetrics()
        self.pool = _pool(config, self.metrics).start()
        self.jobs = JobManager(self.store, self.pool, config)
        options = [
            ("grpc.max_receive_message_length", config.max_message_bytes),
            ("grpc.max_send_message_length", config.max_message_bytes),
        ]
        self._grpc = grpc.server(
            futures.ThreadPoolExecutor(
                max_workers=config.max_concurrent_rpcs, thread_name_prefix="qsched-rpc"
            ),
            interceptors=interceptors.for_service(
                SERVICE, SCHEDULER_PERMISSIONS, auth, self.metrics.observe_rpc
            ),
            options=options,
            maximum_concurrent_rpcs=config.max_concurrent_rpcs,
        )
        self._servicer = SchedulerServicer(self.pool, self.jobs, config)
        scheduler_pb2_grpc.add_SchedulerServiceServicer_to_server(self._servicer, self._grpc)
        self.metrics.read_at_scrape(
            lambda: self.store.count(scheduler_pb2.JOB_STATE_QUEUED), self.store.size_bytes
        )
        #: The port of ``/metrics`` (None without ``metrics_address``).
        self.metrics_port = self.metrics.serve(metrics_address) if metrics_address else None
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._grpc)
        if reflection_on:  # open to anyone who can connect: operators may switch it off
            reflection.enable_server_reflection(
                (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), self._grpc
            )
        if tls is None:
            self.port = self._grpc.add_insecure_port(address)
        else:
            self.port = self._grpc.add_secure_port(address, tls.credentials())
        if self.port == 0:
            raise OSError(f"could not bind {address}")
        self.address = f"{address.rsplit(':', 1)[0]}:{self.port}"

    def start(self) -> Server:
        self._grpc.start()
        for name in ("", SERVICE_NAME):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        return self

    def stop(self, grace: float = 1.0) -> None:
        """Report NOT_SERVING; running solves answer with their best so far and running
        jobs end INTERRUPTED with theirs; then close (RPCs get ``grace`` seconds more)."""
        self.health.enter_graceful_shutdown()
        self._servicer.stop_calls()
        self.jobs.close()
        self._grpc.stop(grace + self.config.grace_seconds).wait()
        self.pool.close()
        self.metrics.close()
        self.store.close()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
