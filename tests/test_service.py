"""The gRPC SchedulerService through a real client: every RPC, errors, jobs, crashes, health, reflection."""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Callable

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from conftest import BRAUN_MIN_MIN_MAKESPAN, RPC_TIMEOUT, make_small_problem
from qsched.problem import Limits
from qsched.service.errors import field_violations
from qsched.v1 import scheduler_pb2, scheduler_pb2_grpc

SERVICE = "qsched.v1.SchedulerService"
HEURISTICS = ["min-min", "max-min", "sufferage"]
TERMINAL = {
    scheduler_pb2.JOB_STATE_SUCCEEDED,
    scheduler_pb2.JOB_STATE_FAILED,
    scheduler_pb2.JOB_STATE_CANCELLED,
    scheduler_pb2.JOB_STATE_INTERRUPTED,
}
#: Upper bound on any wait for a job to reach a state.
JOB_WAIT = 15.0


# --------------------------------------------------------------------------- helpers


def solve_request(problem, solver="min-min", *, wall=0.0, evaluations=0, seed=0, options=None, backend=""):
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


def solve(stub, problem, solver="min-min", *, timeout=RPC_TIMEOUT, **fields) -> scheduler_pb2.SolveResponse:
    return stub.Solve(solve_request(problem, solver, **fields), timeout=timeout)


def submit(stub, problem, solver="min-min", **fields) -> scheduler_pb2.Job:
    job = stub.SubmitJob(scheduler_pb2.SubmitJobRequest(request=solve_request(problem, solver, **fields)), timeout=RPC_TIMEOUT)
    assert job.id
    return job


def get_job(stub, job_id, **fields) -> scheduler_pb2.Job:
    return stub.GetJob(scheduler_pb2.GetJobRequest(job_id=job_id, **fields), timeout=RPC_TIMEOUT)


def wait_for_job(stub, job_id, until: Callable[[scheduler_pb2.Job], bool], timeout=JOB_WAIT, what="condition") -> scheduler_pb2.Job:
    """Poll GetJob until ``until(job)``; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        job = get_job(stub, job_id)
        if until(job):
            return job
        if time.monotonic() > deadline:
            pytest.fail(f"job {job_id} did not reach {what} within {timeout}s; it is {scheduler_pb2.JobState.Name(job.state)} ({job.error})")
        time.sleep(0.02)


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
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (error.code(), error.details())
    fields = [v.field for v in field_violations(error)]
    assert field in fields, f"{field!r} not among the field violations {fields} ({error.details()})"


def assert_complete_schedule(schedule, problem) -> None:
    """Every task assigned to a known machine, and one plan per machine in problem order."""
    assert set(schedule.assignment) == {t.id for t in problem.tasks}
    assert set(schedule.assignment.values()) <= {m.id for m in problem.machines}
    assert [plan.machine_id for plan in schedule.machines] == [m.id for m in problem.machines]
    assert sum(len(plan.tasks) for plan in schedule.machines) == len(problem.tasks)


# --------------------------------------------------------------------------- Solve


def test_solve_min_min_on_braun_instance(stub, braun_problem):
    response = solve(stub, braun_problem, "min-min")

    assert response.solver == "min-min"
    assert response.stop_reason == scheduler_pb2.STOP_REASON_COMPLETED
    metrics = response.schedule.metrics
    assert metrics.makespan_seconds == pytest.approx(BRAUN_MIN_MIN_MAKESPAN, abs=0.1)
    assert metrics.feasible
    assert len(response.schedule.assignment) == 512
    assert_complete_schedule(response.schedule, braun_problem)
    assert len(response.convergence) >= 1
    assert response.convergence[-1].objective == pytest.approx(metrics.objective)
    assert response.evaluations >= 1


def test_solve_without_solver_name_uses_min_min(stub, small_problem):
    default = solve(stub, small_problem, "")
    explicit = solve(stub, small_problem, "min-min")

    assert default.solver == "min-min"
    assert dict(default.schedule.assignment) == dict(explicit.schedule.assignment)


def test_solve_returns_best_so_far_at_call_deadline(stub, braun_problem):
    started = time.monotonic()
    response = solve(stub, braun_problem, "local-search", wall=30.0, timeout=2.0)
    took = time.monotonic() - started

    assert took < 2.0
    assert response.stop_reason == scheduler_pb2.STOP_REASON_DEADLINE
    assert len(response.schedule.assignment) == 512
    assert_complete_schedule(response.schedule, braun_problem)
    assert response.schedule.metrics.makespan_seconds <= BRAUN_MIN_MIN_MAKESPAN + 0.1
    assert response.convergence and response.convergence[0].stage == "construct"
    assert response.evaluations > 1  # it searched past the greedy start


def test_solve_with_evaluation_budget_is_deterministic(stub, small_problem):
    first, second = (solve(stub, small_problem, "local-search", evaluations=300, seed=7) for _ in range(2))

    for response in (first, second):
        assert response.stop_reason == scheduler_pb2.STOP_REASON_BUDGET
        assert response.evaluations == 300
        assert_complete_schedule(response.schedule, small_problem)
    assert dict(first.schedule.assignment) == dict(second.schedule.assignment)
    assert first.schedule.metrics.objective == second.schedule.metrics.objective
    assert [p.evaluations for p in first.convergence] == [p.evaluations for p in second.convergence]


def test_solve_reports_evaluated_metrics(stub, small_problem):
    response = solve(stub, small_problem, "min-min")

    metrics = response.schedule.metrics
    finishes = [slot.finish_seconds for plan in response.schedule.machines for slot in plan.tasks]
    assert metrics.makespan_seconds == pytest.approx(max(finishes))
    assert metrics.objective == pytest.approx(metrics.makespan_seconds)  # makespan_weight 1, energy_weight 0
    assert metrics.feasible and metrics.capacity_violations == 0
    assert metrics.energy_joules > 0
    for plan in response.schedule.machines:
        starts = [slot.start_seconds for slot in plan.tasks]
        assert starts == sorted(starts)
        assert plan.powered_on == bool(plan.tasks)


# --------------------------------------------------------------------------- jobs


def test_min_min_job_succeeds_and_watch_ends_with_terminal_job(stub, small_problem):
    job = submit(stub, small_problem, "min-min")
    assert job.state in (scheduler_pb2.JOB_STATE_QUEUED, scheduler_pb2.JOB_STATE_RUNNING, scheduler_pb2.JOB_STATE_SUCCEEDED)
    assert job.solver == "min-min" and job.problem_name == "small"
    assert job.HasField("created_time")

    events = watch(stub, job.id)

    assert events[0].WhichOneof("event") == "job" and events[0].job.id == job.id
    assert events[-1].WhichOneof("event") == "job"
    assert events[-1].job.state == scheduler_pb2.JOB_STATE_SUCCEEDED
    assert [e for e in events[:-1] if e.WhichOneof("event") == "job" and e.job.state in TERMINAL] == []

    done = get_job(stub, job.id)
    assert done.state == scheduler_pb2.JOB_STATE_SUCCEEDED
    assert done.HasField("result") and done.result.stop_reason == scheduler_pb2.STOP_REASON_COMPLETED
    assert done.HasField("start_time") and done.HasField("end_time")
    assert done.end_time.ToNanoseconds() >= done.start_time.ToNanoseconds() >= done.created_time.ToNanoseconds()
    assert_complete_schedule(done.result.schedule, small_problem)
    direct = solve(stub, small_problem, "min-min")
    assert dict(done.result.schedule.assignment) == dict(direct.schedule.assignment)
    assert not done.HasField("request")

    # Watching a finished job gives just the finished job.
    again = watch(stub, job.id)
    assert len(again) == 1 and again[0].job.state == scheduler_pb2.JOB_STATE_SUCCEEDED


def test_get_job_include_request_returns_the_submitted_request(stub, small_problem):
    job = submit(stub, small_problem, "local-search", evaluations=50, seed=3, options={"start": "sufferage"})
    wait_until_ended(stub, job.id)

    with_request = get_job(stub, job.id, include_request=True)

    assert with_request.request == solve_request(small_problem, "local-search", evaluations=50, seed=3, options={"start": "sufferage"})


def test_watch_job_streams_progress_of_a_search(stub, braun_problem):
    job = submit(stub, braun_problem, "local-search", wall=1.0, seed=1)

    events = watch(stub, job.id)

    kinds = [e.WhichOneof("event") for e in events]
    assert kinds[0] == "job" and kinds[-1] == "job"
    final = events[-1].job
    assert final.state == scheduler_pb2.JOB_STATE_SUCCEEDED
    assert final.result.stop_reason == scheduler_pb2.STOP_REASON_BUDGET
    progress = [e.progress.objective for e in events if e.WhichOneof("event") == "progress"]
    assert progress, "a searching job streams its improvements"
    assert progress == sorted(progress, reverse=True)
    assert final.result.schedule.metrics.objective <= progress[-1] + 1e-6
    assert any(e.job.state == scheduler_pb2.JOB_STATE_RUNNING for e in events if e.WhichOneof("event") == "job")


def test_cancel_running_job_keeps_best_schedule(stub, small_problem):
    job = submit(stub, small_problem, "local-search", wall=30.0)
    running = wait_for_job(
        stub, job.id, lambda j: j.state == scheduler_pb2.JOB_STATE_RUNNING and j.HasField("progress"), what="RUNNING with progress"
    )
    assert running.HasField("start_time")

    started = time.monotonic()
    cancelled = stub.CancelJob(scheduler_pb2.CancelJobRequest(job_id=job.id), timeout=RPC_TIMEOUT)

    assert time.monotonic() - started < 5.0
    assert cancelled.state == scheduler_pb2.JOB_STATE_CANCELLED
    assert cancelled.HasField("result")
    assert cancelled.result.stop_reason == scheduler_pb2.STOP_REASON_CANCELLED
    assert_complete_schedule(cancelled.result.schedule, small_problem)
    assert get_job(stub, job.id).state == scheduler_pb2.JOB_STATE_CANCELLED

    error = rpc_error(stub.CancelJob, scheduler_pb2.CancelJobRequest(job_id=job.id))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_cancel_queued_job_never_runs_it(start_server, connect, small_problem):
    stub = scheduler_pb2_grpc.SchedulerServiceStub(connect(start_server(workers=1)))
    blocker = submit(stub, small_problem, "local-search", wall=30.0)
    wait_for_state(stub, blocker.id, scheduler_pb2.JOB_STATE_RUNNING)
    queued = submit(stub, small_problem, "min-min")
    assert get_job(stub, queued.id).state == scheduler_pb2.JOB_STATE_QUEUED

    cancelled = stub.CancelJob(scheduler_pb2.CancelJobRequest(job_id=queued.id), timeout=RPC_TIMEOUT)
    assert cancelled.state == scheduler_pb2.JOB_STATE_CANCELLED
    assert not cancelled.HasField("result")

    stub.CancelJob(scheduler_pb2.CancelJobRequest(job_id=blocker.id), timeout=RPC_TIMEOUT)
    time.sleep(0.3)  # the freed dispatcher would pick the queued job up now
    after = get_job(stub, queued.id)
    assert after.state == scheduler_pb2.JOB_STATE_CANCELLED
    assert not after.HasField("start_time")


@pytest.mark.parametrize("rpc", ["GetJob", "CancelJob", "WatchJob"])
def test_unknown_job_id_is_not_found(stub, rpc):
    request_type = {"GetJob": scheduler_pb2.GetJobRequest, "CancelJob": scheduler_pb2.CancelJobRequest, "WatchJob": scheduler_pb2.WatchJobRequest}[rpc]

    error = rpc_error(getattr(stub, rpc), request_type(job_id="no-such-job"))

    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_list_jobs_newest_first_with_pagination(stub, small_problem):
    ids = []
    for i in range(5):
        small_problem.name = f"p{i}"
        ids.append(submit(stub, small_problem).id)
    newest_first = ids[::-1]

    everything = list_jobs(stub)
    assert [j.id for j in everything.jobs] == newest_first
    assert [j.problem_name for j in everything.jobs] == [f"p{i}" for i in range(4, -1, -1)]
    assert everything.next_page_token == ""
    assert not any(j.HasField("result") or j.HasField("request") for j in everything.jobs)

    pages, token = [], ""
    for _ in range(5):  # bounded: 3 pages expected
        page = list_jobs(stub, page_size=2, page_token=token)
        pages.append([j.id for j in page.jobs])
        token = page.next_page_token
        if not token:
            break
    assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:5]]


def test_list_jobs_filters_by_state(stub, small_problem):
    finished = [submit(stub, small_problem).id for _ in range(3)]
    for job_id in finished:
        wait_for_state(stub, job_id, scheduler_pb2.JOB_STATE_SUCCEEDED)
    searching = submit(stub, small_problem, "local-search", wall=30.0)
    wait_for_state(stub, searching.id, scheduler_pb2.JOB_STATE_RUNNING)

    running = list_jobs(stub, state=scheduler_pb2.JOB_STATE_RUNNING)
    assert [j.id for j in running.jobs] == [searching.id]

    stub.CancelJob(scheduler_pb2.CancelJobRequest(job_id=searching.id), timeout=RPC_TIMEOUT)
    assert [j.id for j in list_jobs(stub, state=scheduler_pb2.JOB_STATE_CANCELLED).jobs] == [searching.id]
    assert list_jobs(stub, state=scheduler_pb2.JOB_STATE_RUNNING).jobs == []

    first = list_jobs(stub, state=scheduler_pb2.JOB_STATE_SUCCEEDED, page_size=2)
    rest = list_jobs(stub, state=scheduler_pb2.JOB_STATE_SUCCEEDED, page_size=2, page_token=first.next_page_token)
    assert [j.id for j in (*first.jobs, *rest.jobs)] == finished[::-1]
    assert all(j.state == scheduler_pb2.JOB_STATE_SUCCEEDED for j in (*first.jobs, *rest.jobs))
    assert rest.next_page_token == ""


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"page_size": 5000}, "page_size"), ({"page_token": "not-a-token"}, "page_token"), ({"state": 42}, "state")],
)
def test_list_jobs_rejects_bad_requests(stub, fields, field):
    assert_invalid(rpc_error(stub.ListJobs, scheduler_pb2.ListJobsRequest(**fields)), field)


def test_list_jobs_accepts_the_largest_page_size(stub, small_problem):
    job = submit(stub, small_problem)
    assert [j.id for j in list_jobs(stub, page_size=1000).jobs] == [job.id]


# --------------------------------------------------------------------------- ListSolvers, Compare


def test_list_solvers(stub):
    response = stub.ListSolvers(scheduler_pb2.ListSolversRequest(), timeout=RPC_TIMEOUT)

    solvers = {s.name: s for s in response.solvers}
    assert set(solvers) >= {"min-min", "max-min", "sufferage", "local-search"}
    for name in HEURISTICS:
        assert solvers[name].kind == scheduler_pb2.SOLVER_KIND_HEURISTIC
        assert solvers[name].finite
    assert solvers["local-search"].kind == scheduler_pb2.SOLVER_KIND_METAHEURISTIC
    assert not solvers["local-search"].finite
    assert all(s.description for s in response.solvers)
    limits = Limits()
    assert response.max_tasks == limits.max_tasks
    assert response.max_machines == limits.max_machines
    assert response.max_wall_seconds == 3600.0


def test_list_solvers_reports_configured_limits(start_server, connect):
    server = start_server(limits=Limits(max_tasks=10, max_machines=4), max_wall_seconds=120.0)
    stub = scheduler_pb2_grpc.SchedulerServiceStub(connect(server))

    response = stub.ListSolvers(scheduler_pb2.ListSolversRequest(), timeout=RPC_TIMEOUT)

    assert (response.max_tasks, response.max_machines, response.max_wall_seconds) == (10, 4, 120.0)


def test_compare_returns_results_in_request_order(stub, small_problem):
    order = ["sufferage", "min-min", "max-min"]
    response = stub.Compare(scheduler_pb2.CompareRequest(problem=small_problem, solvers=order, seed=5), timeout=RPC_TIMEOUT)

    assert [r.solver for r in response.results] == order
    for result in response.results:
        assert result.stop_reason == scheduler_pb2.STOP_REASON_COMPLETED
        assert_complete_schedule(result.schedule, small_problem)
    direct = solve(stub, small_problem, "min-min")
    assert dict(response.results[1].schedule.assignment) == dict(direct.schedule.assignment)


def test_compare_three_heuristics_on_braun(stub, braun_problem):
    response = stub.Compare(scheduler_pb2.CompareRequest(problem=braun_problem, solvers=HEURISTICS), timeout=RPC_TIMEOUT)

    assert [r.solver for r in response.results] == HEURISTICS
    assert response.results[0].schedule.metrics.makespan_seconds == pytest.approx(BRAUN_MIN_MIN_MAKESPAN, abs=0.1)
    assert all(len(r.schedule.assignment) == 512 for r in response.results)


def test_compare_unknown_solver_names_its_position(stub, small_problem):
    error = rpc_error(stub.Compare, scheduler_pb2.CompareRequest(problem=small_problem, solvers=["min-min", "nope"]))

    assert_invalid(error, "solvers[1]")


def test_compare_without_solvers_is_invalid(stub, small_problem):
    assert_invalid(rpc_error(stub.Compare, scheduler_pb2.CompareRequest(problem=small_problem)), "solvers")


# --------------------------------------------------------------------------- invalid input


def _negative_work(p):
    p.tasks[0].work = -1.0


def _nan_work(p):
    p.tasks[0].work = math.nan


def _nan_deadline(p):
    p.tasks[0].deadline = math.nan


def _unknown_etc_machine(p):
    p.tasks[0].work = 0.0
    p.tasks[0].etc.update({"m0": 1.0, "m1": 1.0, "m2": 1.0, "nope": 1.0})


def _no_tasks(p):
    del p.tasks[:]


def _unknown_resource(p):
    p.tasks[2].demand["gpu"] = 1.0


def _duplicate_task_id(p):
    p.tasks[1].id = p.tasks[0].id


BAD_PROBLEMS = [
    pytest.param(_negative_work, "problem.tasks[0].work", id="negative-work"),
    pytest.param(_nan_work, "problem.tasks[0].work", id="nan-work"),
    pytest.param(_nan_deadline, "problem.tasks[0].deadline", id="nan-deadline"),
    pytest.param(_unknown_etc_machine, 'problem.tasks[0].etc["nope"]', id="unknown-etc-machine"),
    pytest.param(_no_tasks, "problem.tasks", id="no-tasks"),
    pytest.param(_unknown_resource, 'problem.tasks[2].demand["gpu"]', id="unknown-resource"),
    pytest.param(_duplicate_task_id, "problem.tasks[1].id", id="duplicate-task-id"),
]


@pytest.mark.parametrize(("mutate", "field"), BAD_PROBLEMS)
def test_solve_rejects_bad_problem_naming_the_field(stub, small_problem, mutate, field):
    mutate(small_problem)
    assert_invalid(rpc_error(stub.Solve, solve_request(small_problem)), field)


@pytest.mark.parametrize(("mutate", "field"), BAD_PROBLEMS)
def test_compare_rejects_bad_problem_naming_the_field(stub, small_problem, mutate, field):
    mutate(small_problem)
    error = rpc_error(stub.Compare, scheduler_pb2.CompareRequest(problem=small_problem, solvers=HEURISTICS))
    assert_invalid(error, field)


@pytest.mark.parametrize(("mutate", "field"), BAD_PROBLEMS)
def test_submit_job_rejects_bad_problem_naming_the_request_field(stub, small_problem, mutate, field):
    mutate(small_problem)
    error = rpc_error(stub.SubmitJob, scheduler_pb2.SubmitJobRequest(request=solve_request(small_problem)))

    assert_invalid(error, f"request.{field}")
    assert list_jobs(stub).jobs == []  # nothing was persisted


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        pytest.param({"solver": "no-such-solver"}, "solver", id="unknown-solver"),
        pytest.param({"options": {"xyz": 1}}, "options.xyz", id="unknown-option"),
        pytest.param({"wall": -1.0}, "budget.wall_seconds", id="negative-wall"),
        pytest.param({"wall": math.nan}, "budget.wall_seconds", id="nan-wall"),
        pytest.param({"solver": "local-search", "options": {"start": "bogus"}, "evaluations": 10}, "options.start", id="bad-option-value"),
    ],
)
def test_solve_rejects_bad_request_fields(stub, small_problem, fields, field):
    fields = dict(fields)
    solver = fields.pop("solver", "min-min")
    assert_invalid(rpc_error(stub.Solve, solve_request(small_problem, solver, **fields)), field)


def test_submit_job_rejects_bad_request_fields(stub, small_problem):
    assert_invalid(rpc_error(stub.SubmitJob, scheduler_pb2.SubmitJobRequest(request=solve_request(small_problem, "nope"))), "request.solver")
    assert_invalid(
        rpc_error(stub.SubmitJob, scheduler_pb2.SubmitJobRequest(request=solve_request(small_problem, wall=-5.0))), "request.budget.wall_seconds"
    )
    assert list_jobs(stub).jobs == []


def test_missing_problem_is_invalid(stub):
    assert_invalid(rpc_error(stub.Solve, scheduler_pb2.SolveRequest(solver="min-min")), "problem")
    assert_invalid(rpc_error(stub.SubmitJob, scheduler_pb2.SubmitJobRequest()), "request.problem")


def test_problem_over_the_server_task_limit_is_invalid(start_server, connect):
    stub = scheduler_pb2_grpc.SchedulerServiceStub(connect(start_server(limits=Limits(max_tasks=10))))
    problem = make_small_problem()
    for i in range(6, 11):
        problem.tasks.add(id=f"t{i}", work=1.0)
    assert len(problem.tasks) == 11

    assert_invalid(rpc_error(stub.Solve, solve_request(problem)), "problem.tasks")
    del problem.tasks[10:]
    assert len(solve(stub, problem).schedule.assignment) == 10  # at the limit is fine


def test_message_over_the_size_limit_is_resource_exhausted(start_server, connect, braun_problem, small_problem):
    stub = scheduler_pb2_grpc.SchedulerServiceStub(connect(start_server(max_message_bytes=64 * 1024)))
    request = solve_request(braun_problem)
    assert request.ByteSize() > 64 * 1024

    error = rpc_error(stub.Solve, request)

    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert solve(stub, small_problem).schedule.metrics.feasible  # the server still serves small requests


# --------------------------------------------------------------------------- crashes


def test_killed_worker_fails_the_job_and_server_keeps_serving(server, stub, braun_problem, small_problem):
    job = submit(stub, braun_problem, "local-search", wall=60.0)
    wait_for_state(stub, job.id, scheduler_pb2.JOB_STATE_RUNNING)
    deadline = time.monotonic() + JOB_WAIT
    while not (pids := server.pool.active_pids()):
        assert time.monotonic() < deadline, "no worker process appeared for the running job"
        time.sleep(0.02)
    assert len(pids) == 1

    os.kill(pids[0], signal.SIGKILL)

    failed = wait_until_ended(stub, job.id)
    assert failed.state == scheduler_pb2.JOB_STATE_FAILED
    assert "process" in failed.error.lower()
    assert solve(stub, small_problem).schedule.metrics.feasible
    assert server.pool.active_pids() == []


# --------------------------------------------------------------------------- health, reflection


@pytest.mark.parametrize("service", ["", SERVICE])
def test_health_check_reports_serving(channel, service):
    health = health_pb2_grpc.HealthStub(channel)

    response = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=RPC_TIMEOUT)

    assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_service(channel):
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    requests = [
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE),
    ]

    listed, described = reflection.ServerReflectionInfo(iter(requests), timeout=RPC_TIMEOUT)

    names = [s.name for s in listed.list_services_response.service]
    assert SERVICE in names
    assert "grpc.health.v1.Health" in names
    assert described.file_descriptor_response.file_descriptor_proto, described
