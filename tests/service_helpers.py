"""Helpers shared by the service tests: constants, a small problem, RPC shortcuts and assertions."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
import trustme

from qsched.v1 import problem_pb2, scheduler_pb2

ROOT = Path(__file__).resolve().parents[1]
#: The Braun et al. 512x16 consistent high/high instance; Min-min reaches 8460675.0 on it.
BRAUN_PATH = ROOT / "datasets" / "hcsp" / "512x16" / "u_c_hihi.0"
BRAUN_MIN_MIN_MAKESPAN = 8460675.0

#: Deadline for one unary call that should answer at once (worker start included).
RPC_TIMEOUT = 20.0
#: How long to wait for a channel to connect.
CONNECT_TIMEOUT = 10.0


def make_small_problem(name: str = "small") -> problem_pb2.AllocationProblem:
    """6 tasks x 3 machines: work/speed runtimes, cpu/memory demands within capacities, linear
    power."""
    machines = [
        problem_pb2.Machine(
            id="m0",
            speed=1.0,
            capacity={"cpu": 4, "memory": 8},
            linear_power=problem_pb2.LinearPower(idle_watts=50, peak_watts=150),
        ),
        problem_pb2.Machine(
            id="m1",
            speed=2.0,
            capacity={"cpu": 4, "memory": 8},
            linear_power=problem_pb2.LinearPower(idle_watts=80, peak_watts=250),
        ),
        problem_pb2.Machine(
            id="m2",
            speed=4.0,
            capacity={"cpu": 2, "memory": 4},
            linear_power=problem_pb2.LinearPower(idle_watts=120, peak_watts=400),
        ),
    ]
    works = [4.0, 8.0, 2.0, 6.0, 3.0, 5.0]
    tasks = [
        problem_pb2.Task(id=f"t{i}", work=work, demand={"cpu": 1.0, "memory": 1.0 + i % 2})
        for i, work in enumerate(works)
    ]
    return problem_pb2.AllocationProblem(
        name=name,
        tasks=tasks,
        machines=machines,
        objective=problem_pb2.Objective(makespan_weight=1.0),
    )


TERMINAL = frozenset(
    {
        scheduler_pb2.JOB_STATE_SUCCEEDED,
        scheduler_pb2.JOB_STATE_FAILED,
        scheduler_pb2.JOB_STATE_CANCELLED,
        scheduler_pb2.JOB_STATE_INTERRUPTED,
    }
)
#: Upper bound on any wait for a job to reach a state.
JOB_WAIT = 15.0


def solve_request(
    problem, solver="min-min", *, wall=0.0, evaluations=0, seed=0, options=None, backend=""
):
    request = scheduler_pb2.SolveRequest(
        problem=problem,
        solver=solver,
        backend=backend,
        budget=scheduler_pb2.Budget(wall_seconds=wall, evaluations=evaluations),
        seed=seed,
    )
    if options:
        request.options.update(options)
    return request


def solve(
    stub, problem, solver="min-min", *, timeout=RPC_TIMEOUT, **fields
) -> scheduler_pb2.SolveResponse:
    return stub.Solve(solve_request(problem, solver, **fields), timeout=timeout)


def submit(stub, problem, solver="min-min", **fields) -> scheduler_pb2.Job:
    job = stub.SubmitJob(
        scheduler_pb2.SubmitJobRequest(request=solve_request(problem, solver, **fields)),
        timeout=RPC_TIMEOUT,
    )
    assert job.id
    return job


def get_job(stub, job_id, **fields) -> scheduler_pb2.Job:
    return stub.GetJob(scheduler_pb2.GetJobRequest(job_id=job_id, **fields), timeout=RPC_TIMEOUT)


def wait_for_job(
    stub, job_id, until: Callable[[scheduler_pb2.Job], bool], timeout=JOB_WAIT, what="condition"
) -> scheduler_pb2.Job:
    """Poll GetJob until ``until(job)``; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        job = get_job(stub, job_id)
        if until(job):
            return job
        if time.monotonic() > deadline:
            state = scheduler_pb2.JobState.Name(job.state)
            pytest.fail(
                f"job {job_id} did not reach {what} within {timeout}s; it is {state} ({job.error})"
            )
        time.sleep(0.02)


def wait_for_progress(stub, job_id, timeout=JOB_WAIT) -> scheduler_pb2.Job:
    """The job once it is RUNNING and has reported progress (a best schedule so far)."""
    return wait_for_job(
        stub,
        job_id,
        lambda j: j.state == scheduler_pb2.JOB_STATE_RUNNING and j.HasField("progress"),
        timeout,
        "RUNNING with progress",
    )


def wait_for_state(stub, job_id, *states, timeout=JOB_WAIT) -> scheduler_pb2.Job:
    names = "/".join(scheduler_pb2.JobState.Name(s) for s in states)
    return wait_for_job(stub, job_id, lambda job: job.state in states, timeout, names)


def wait_until_ended(stub, job_id, timeout=JOB_WAIT) -> scheduler_pb2.Job:
    return wait_for_state(stub, job_id, *TERMINAL, timeout=timeout)


def watch(stub, job_id, timeout=JOB_WAIT) -> list[scheduler_pb2.JobEvent]:
    """Every event of a WatchJob stream, which must end by itself within ``timeout``."""
    return list(stub.WatchJob(scheduler_pb2.WatchJobRequest(job_id=job_id), timeout=timeout))


def list_jobs(stub, **fields) -> scheduler_pb2.ListJobsResponse:
    return stub.ListJobs(scheduler_pb2.ListJobsRequest(**fields), timeout=RPC_TIMEOUT)


def rpc_error(call, *args, **kwargs) -> grpc.RpcError:
    """The error a (unary or streaming) call ends with; fails if it succeeds."""
    kwargs.setdefault("timeout", RPC_TIMEOUT)
    with pytest.raises(grpc.RpcError) as info:
        result = call(*args, **kwargs)
        if not hasattr(result, "ByteSize"):  # a stream: the error comes while reading it
            list(result)
    return info.value


def assert_invalid(error: grpc.RpcError, field: str) -> None:
    """INVALID_ARGUMENT whose google.rpc.BadRequest names ``field``."""
    from qsched.service.errors import field_violations

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (error.code(), error.details())
    fields = [v.field for v in field_violations(error)]
    assert field in fields, f"{field!r} not among the field violations {fields} ({error.details()})"


def assert_complete_schedule(schedule, problem) -> None:
    """Every task assigned to a known machine, and one plan per machine in problem order."""
    assert set(schedule.assignment) == {t.id for t in problem.tasks}
    assert set(schedule.assignment.values()) <= {m.id for m in problem.machines}
    assert [plan.machine_id for plan in schedule.machines] == [m.id for m in problem.machines]
    assert sum(len(plan.tasks) for plan in schedule.machines) == len(problem.tasks)


def write_pair(issued: trustme.LeafCert, directory: Path, name: str) -> tuple[Path, Path]:
    """A certificate made by trustme, written as PEM files: (chain, key)."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    cert.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    key.write_bytes(issued.private_key_pem.bytes())
    return cert, key
