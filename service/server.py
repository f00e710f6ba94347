"""The gRPC server: `SchedulerService`, health checking and reflection.

`Server` wires the pieces (SQLite job store, worker pool, job manager) and
binds a grpcio server. Handlers validate first (INVALID_ARGUMENT with field
violations), run solves in worker processes, and map every failure to a
status code; nothing a client sends can make a handler raise.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent import futures
from dataclasses import replace
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from qsched import registry
from qsched.messages import response_message
from qsched.problem import FieldViolation, ProblemError
from qsched.service.config import ServiceConfig
from qsched.service.errors import abort_invalid
from qsched.service.jobs import JobAlreadyEndedError, JobManager, JobNotFoundError, QueueFullError
from qsched.service.requests import problem_from, solve_job
from qsched.service.store import JobStore
from qsched.service.worker import Outcome, SolveJob, WorkerPool
from qsched.solver import StopReason
from qsched.v1 import scheduler_pb2, scheduler_pb2_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = scheduler_pb2.DESCRIPTOR.services_by_name["SchedulerService"].full_name
KINDS = {
    registry.SolverKind.HEURISTIC: scheduler_pb2.SOLVER_KIND_HEURISTIC,
    registry.SolverKind.METAHEURISTIC: scheduler_pb2.SOLVER_KIND_METAHEURISTIC,
    registry.SolverKind.EXACT: scheduler_pb2.SOLVER_KIND_EXACT,
    registry.SolverKind.QUANTUM: scheduler_pb2.SOLVER_KIND_QUANTUM,
}
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100


def deadline_stop_at(context: grpc.ServicerContext) -> float | None:
    """When to stop a solve so the answer still reaches the caller before its deadline."""
    remaining = context.time_remaining()
    if remaining is None or remaining > 1e9:
        return None
    margin = min(1.0, 0.1 + 0.1 * remaining)
    return time.monotonic() + max(0.0, remaining - margin)


class SchedulerServicer(scheduler_pb2_grpc.SchedulerServiceServicer):
    def __init__(self, pool: WorkerPool, jobs: JobManager, config: ServiceConfig):
        self.pool = pool
        self.jobs = jobs
        self.config = config

    def _run(self, job: SolveJob, backend: str, context: grpc.ServicerContext) -> scheduler_pb2.SolveResponse:
        """Run one solve for a unary call: stops at the call deadline or when the client leaves."""
        stop = threading.Event()
        context.add_callback(stop.set)
        stop_at = deadline_stop_at(context)
        outcome: Outcome = self.pool.run(job, stop=stop, stop_at=stop_at)
        if outcome.violations is not None:
            abort_invalid(context, outcome.violations)
        if outcome.result is None:
            if stop_at is not None and time.monotonic() >= stop_at:
                context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"{job.solver} found no schedule before the deadline")
            if stop.is_set():
                context.abort(grpc.StatusCode.CANCELLED, "the call was cancelled")
            log.error("solve with %s failed: %s", job.solver, outcome.error)
            context.abort(grpc.StatusCode.INTERNAL, f"{job.solver} failed: {outcome.error}")
        result = outcome.result
        if result.stop_reason is StopReason.CANCELLED and stop_at is not None and time.monotonic() >= stop_at:
            result = replace(result, stop_reason=StopReason.DEADLINE)
        return response_message(job.problem, result, backend)

    def Solve(self, request, context):
        try:
            job = solve_job(request, request.solver, problem_from(request, self.config), self.config)
        except ProblemError as error:
            abort_invalid(context, error.violations)
        return self._run(job, request.backend, context)

    def Compare(self, request, context):
        if not request.solvers:
            abort_invalid(context, [FieldViolation("solvers", "must name at least one solver")])
        try:
            problem = problem_from(request, self.config)
            jobs = [solve_job(request, name, problem, self.config, f"solvers[{i}]") for i, name in enumerate(request.solvers)]
        except ProblemError as error:
            abort_invalid(context, error.violations)
        return scheduler_pb2.CompareResponse(results=[self._run(job, request.backend, context) for job in jobs])

    def SubmitJob(self, request, context):
        try:
            return self.jobs.submit(request.request)
        except ProblemError as error:
            abort_invalid(context, [replace(v, field=f"request.{v.field}") for v in error.violations])
        except QueueFullError as error:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(error))

    def GetJob(self, request, context):
        try:
            return self.jobs.get(request.job_id, include_request=request.include_request)
        except JobNotFoundError:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no job {request.job_id!r}")

    def WatchJob(self, request, context):
        try:
            yield from self.jobs.watch(request.job_id, context.is_active)
        except JobNotFoundError:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no job {request.job_id!r}")

    def CancelJob(self, request, context):
        try:
            return self.jobs.cancel(request.job_id)
        except JobNotFoundError:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no job {request.job_id!r}")
        except JobAlreadyEndedError as error:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(error))

    def ListJobs(self, request, context):
        size = request.page_size or DEFAULT_PAGE_SIZE
        if size > MAX_PAGE_SIZE:
            abort_invalid(context, [FieldViolation("page_size", f"must be <= {MAX_PAGE_SIZE}")])
        if request.state and request.state not in scheduler_pb2.JobState.values():
            abort_invalid(context, [FieldViolation("state", "is not a JobState")])
        before = None
        if request.page_token:
            token = request.page_token
            if not (token.isascii() and token.isdecimal() and len(token) <= 18):
                abort_invalid(context, [FieldViolation("page_token", "is not a token from ListJobs")])
            before = int(token)
        jobs, next_seq = self.jobs.store.list(request.state, size, before)
        return scheduler_pb2.ListJobsResponse(jobs=jobs, next_page_token="" if next_seq is None else str(next_seq))

    def ListSolvers(self, request, context):
        limits = self.config.limits
        return scheduler_pb2.ListSolversResponse(
            solvers=[
                scheduler_pb2.SolverInfo(
                    name=spec.name,
                    kind=KINDS[spec.kind],
                    description=spec.description,
                    max_tasks=spec.max_tasks,
                    max_machines=spec.max_machines,
                    finite=spec.finite,
                )
                for spec in registry.available()
            ],
            max_tasks=limits.max_tasks,
            max_machines=limits.max_machines,
            max_wall_seconds=self.config.max_wall_seconds,
        )


class Server:
    """A running qsched gRPC server; ``port`` is the bound port (useful with port 0)."""

    def __init__(self, address: str, db_path: Path | str, config: ServiceConfig = ServiceConfig()):
        self.config = config
        self.store = JobStore(db_path)
        self.pool = WorkerPool(config.workers, config.grace_seconds)
        self.jobs = JobManager(self.store, self.pool, config)
        options = [
            ("grpc.max_receive_message_length", config.max_message_bytes),
            ("grpc.max_send_message_length", config.max_message_bytes),
        ]
        self._grpc = grpc.server(
            futures.ThreadPoolExecutor(max_workers=config.max_concurrent_rpcs, thread_name_prefix="qsched-rpc"),
            options=options,
            maximum_concurrent_rpcs=config.max_concurrent_rpcs,
        )
        scheduler_pb2_grpc.add_SchedulerServiceServicer_to_server(SchedulerServicer(self.pool, self.jobs, config), self._grpc)
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._grpc)
        reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), self._grpc)
        self.port = self._grpc.add_insecure_port(address)
        if self.port == 0:
            raise OSError(f"could not bind {address}")
        self.address = f"{address.rsplit(':', 1)[0]}:{self.port}"

    def start(self) -> Server:
        self._grpc.start()
        for name in ("", SERVICE_NAME):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        return self

    def wait(self) -> None:
        self._grpc.wait_for_termination()

    def stop(self, grace: float = 1.0) -> None:
        """Report NOT_SERVING, stop running jobs (recording their best so far), then close."""
        self.health.enter_graceful_shutdown()
        self.jobs.close()
        self._grpc.stop(grace).wait()
        self.store.close()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
