"""The gRPC SchedulerService through a real client: every RPC, errors, jobs, crashes, health,
reflection."""

from __future__ import annotations

import math
import os
import signal
import time

import grpc
import numpy as np
import pytest
from google.rpc import code_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from service_helpers import (
    BRAUN_MIN_MIN_MAKESPAN,
    JOB_WAIT,
    RPC_TIMEOUT,
    TERMINAL,
    assert_complete_schedule,
    assert_invalid,
    get_job,
    list_jobs,
    make_small_problem,
    rpc_error,
    solve,
    solve_request,
    submit,
    wait_for_progress,
    wait_for_state,
    wait_until_ended,
    watch,
)

from qsched.formats import hcsp
from qsched.formats.messages import option_spec
from qsched.model import registry
from qsched.model.problem import Limits
from qsched.v1 import scheduler_pb2, scheduler_pb2_grpc

SERVICE = "qsched.v1.SchedulerService"
HEURISTICS = ["min-min", "max-min", "sufferage"]


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
    assert response.convergence and response.convergence[0].stage == "first"
    assert response.evaluations > 1  # it searched past the greedy start


def test_solve_with_evaluation_budget_is_deterministic(stub, small_problem):
    first, second = (
        solve(stub, small_problem, "local-search", evaluations=300, seed=7) for _ in range(2)
    )

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
    assert metrics.objective == pytest.approx(
        metrics.makespan_seconds
    )  # makespan_weight 1, energy_weight 0
    assert metrics.feasible and metrics.capacity_violations == 0
    assert metrics.energy_joules > 0
    for plan in response.schedule.machines:
        starts = [slot.start_seconds for slot in plan.tasks]
        assert starts == sorted(starts)
        assert plan.powered_on == bool(plan.tasks)


# --------------------------------------------------------------------------- jobs


def test_min_min_job_succeeds_and_watch_ends_with_terminal_job(stub, small_problem):
    job = submit(stub, small_problem, "min-min")
    assert job.state in (
        scheduler_pb2.JOB_STATE_QUEUED,
        scheduler_pb2.JOB_STATE_RUNNING,
        scheduler_pb2.JOB_STATE_SUCCEEDED,
    )
    assert job.solver == "min-min" and job.problem_name == "small"
    assert job.HasField("created_time")

    events = watch(stub, job.id)

    assert events[0].WhichOneof("event") == "job" and events[0].job.id == job.id
    assert events[-1].WhichOneof("event") == "job"
    assert events[-1].job.state == scheduler_pb2.JOB_STATE_SUCCEEDED
    assert [
        e for e in events[:-1] if e.WhichOneof("event") == "job" and e.job.state in TERMINAL
    ] == []

    done = get_job(stub, job.id)
    assert done.state == scheduler_pb2.JOB_STATE_SUCCEEDED
    assert (
        done.HasField("result") and done.result.stop_reason == scheduler_pb2.STOP_REASON_COMPLETED
    )
    assert done.HasField("start_time") and done.HasField("end_time")
    assert (
        done.end_time.ToNanoseconds()
        >= done.start_time.ToNanoseconds()
        >= done.created_time.ToNanoseconds()
    )
    assert_complete_schedule(done.result.schedule, small_problem)
    direct = solve(stub, small_problem, "min-min")
    assert dict(done.result.schedule.assignment) == dict(direct.schedule.assignment)
    assert not done.HasField("request")

    # Watching a finished job gives just the finished job.
    again = watch(stub, job.id)
    assert len(again) == 1 and again[0].job.state == scheduler_pb2.JOB_STATE_SUCCEEDED


def test_get_job_include_request_returns_the_submitted_request(stub, small_problem):
    job = submit(
        stub, small_problem, "local-search", evaluations=50, seed=3, options={"start": "sufferage"}
    )
    wait_until_ended(stub, job.id)

    with_request = get_job(stub, job.id, include_request=True)

    assert with_request.request == solve_request(
        small_problem, "local-search", evaluations=50, seed=3, options={"start": "sufferage"}
    )


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
    assert any(
        e.job.state == scheduler_pb2.JOB_STATE_RUNNING
        for e in events
        if e.WhichOneof("event") == "job"
    )


def test_cancel_running_job_keeps_best_schedule(stub, small_problem):
    job = submit(stub, small_problem, "local-search", wall=30.0)
    running = wait_for_progress(stub, job.id)
    assert running.HasField("start_time")

    stream = stub.WatchJob(scheduler_pb2.WatchJobRequest(job_id=job.id), timeout=JOB_WAIT)
    assert next(stream).job.state == scheduler_pb2.JOB_STATE_RUNNING

    started = time.monotonic()
    cancelled = stub.CancelJob(scheduler_pb2.CancelJobRequest(job_id=job.id), timeout=RPC_TIMEOUT)

    assert time.monotonic() - started < 5.0
    assert cancelled.state == scheduler_pb2.JOB_STATE_CANCELLED
    assert cancelled.HasField("result")
    assert cancelled.result.stop_reason == scheduler_pb2.STOP_REASON_CANCELLED
    assert_complete_schedule(cancelled.result.schedule, small_problem)
    assert get_job(stub, job.id).state == scheduler_pb2.JOB_STATE_CANCELLED
    rest = list(stream)  # the watcher is told, and its stream ends
    assert rest and rest[-1].job.state == scheduler_pb2.JOB_STATE_CANCELLED

    error = rpc_error(stub.CancelJob, scheduler_pb2.CancelJobRequest(job_id=job.id))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_cancel_queued_job_never_runs_it(server_stub, small_problem):
    _, stub = server_stub(workers=1)
    blocker = submit(stub, small_problem, "local-search", wall=30.0)
    wait_for_state(stub, blocker.id, scheduler_pb2.JOB_STATE_RUNNING)
    queued = submit(stub, small_problem, "min-min")
    assert get_job(stub, queued.id).state == scheduler_pb2.JOB_STATE_QUEUED

    cancelled = stub.CancelJob(
        scheduler_pb2.CancelJobRequest(job_id=queued.id), timeout=RPC_TIMEOUT
    )
    assert cancelled.state == scheduler_pb2.JOB_STATE_CANCELLED
    assert not cancelled.HasField("result")

    stub.CancelJob(scheduler_pb2.CancelJobRequest(job_id=blocker.id), timeout=RPC_TIMEOUT)
    later = submit(stub, small_problem, "min-min")
    wait_for_state(
        stub, later.id, scheduler_pb2.JOB_STATE_SUCCEEDED
    )  # jobs run in order: the cancelled one was passed
    after = get_job(stub, queued.id)
    assert after.state == scheduler_pb2.JOB_STATE_CANCELLED
    assert not after.HasField("start_time")


@pytest.mark.parametrize("rpc", ["GetJob", "CancelJob", "WatchJob"])
def test_unknown_job_id_is_not_found(stub, rpc):
    request_type = {
        "GetJob": scheduler_pb2.GetJobRequest,
        "CancelJob": scheduler_pb2.CancelJobRequest,
        "WatchJob": scheduler_pb2.WatchJobRequest,
    }[rpc]

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

    exact = list_jobs(
        stub, page_size=5
    )  # a page that ends exactly at the last job needs no further page
    assert [j.id for j in exact.jobs] == newest_first and exact.next_page_token == ""


def test_list_jobs_filters_by_state(stub, small_problem):
    finished = [submit(stub, small_problem).id for _ in range(3)]
    for job_id in finished:
        wait_for_state(stub, job_id, scheduler_pb2.JOB_STATE_SUCCEEDED)
    searching = submit(stub, small_problem, "local-search", wall=30.0)
    wait_for_state(stub, searching.id, scheduler_pb2.JOB_STATE_RUNNING)

    running = list_jobs(stub, state=scheduler_pb2.JOB_STATE_RUNNING)
    assert [j.id for j in running.jobs] == [searching.id]

    stub.CancelJob(scheduler_pb2.CancelJobRequest(job_id=searching.id), timeout=RPC_TIMEOUT)
    assert [j.id for j in list_jobs(stub, state=scheduler_pb2.JOB_STATE_CANCELLED).jobs] == [
        searching.id
    ]
    assert list_jobs(stub, state=scheduler_pb2.JOB_STATE_RUNNING).jobs == []

    first = list_jobs(stub, state=scheduler_pb2.JOB_STATE_SUCCEEDED, page_size=2)
    rest = list_jobs(
        stub, state=scheduler_pb2.JOB_STATE_SUCCEEDED, page_size=2, page_token=first.next_page_token
    )
    assert [j.id for j in (*first.jobs, *rest.jobs)] == finished[::-1]
    assert all(j.state == scheduler_pb2.JOB_STATE_SUCCEEDED for j in (*first.jobs, *rest.jobs))
    assert rest.next_page_token == ""


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        pytest.param({"page_size": 5000}, "page_size", id="page-size-5000"),
        pytest.param({"page_token": "not-a-token"}, "page_token", id="token-not-digits"),
        pytest.param({"page_token": "\u00b2"}, "page_token", id="token-superscript-two"),
        pytest.param({"page_token": "9" * 30}, "page_token", id="token-too-large"),
        pytest.param({"state": 42}, "state", id="unknown-state"),
    ],
)
def test_list_jobs_rejects_bad_requests(stub, fields, field):
    assert_invalid(rpc_error(stub.ListJobs, scheduler_pb2.ListJobsRequest(**fields)), field)


def test_list_jobs_accepts_the_largest_page_size(stub, small_problem):
    job = submit(stub, small_problem)
    assert [j.id for j in list_jobs(stub, page_size=1000).jobs] == [job.id]


def test_queue_limit_gives_resource_exhausted(server_stub, small_problem):
    _, stub = server_stub(workers=1, max_queued_jobs=2)
    blocker = submit(stub, small_problem, "local-search", wall=30.0)
    wait_for_state(stub, blocker.id, scheduler_pb2.JOB_STATE_RUNNING)
    queued = [submit(stub, small_problem).id for _ in range(2)]

    error = rpc_error(
        stub.SubmitJob, scheduler_pb2.SubmitJobRequest(request=solve_request(small_problem))
    )
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert len(list_jobs(stub).jobs) == 3  # the refused job was not persisted

    # Cancelled jobs no longer wait for a worker, so they free their places in the queue.
    for job_id in queued:
        stub.CancelJob(scheduler_pb2.CancelJobRequest(job_id=job_id), timeout=RPC_TIMEOUT)
    assert list_jobs(stub, state=scheduler_pb2.JOB_STATE_QUEUED).jobs == []
    accepted = submit(stub, small_problem)
    assert accepted.state == scheduler_pb2.JOB_STATE_QUEUED


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


def test_list_solvers_returns_each_solvers_declared_options(stub):
    response = stub.ListSolvers(scheduler_pb2.ListSolversRequest(), timeout=RPC_TIMEOUT)

    listed = {
        info.name: [option_spec(message) for message in info.options] for info in response.solvers
    }
    assert listed == {spec.name: list(spec.options.values()) for spec in registry.available()}
    ga = next(info for info in response.solvers if info.name == "ga")
    start = next(option for option in ga.options if option.name == "start")
    assert (start.type, start.default_value.string_value, list(start.choices)) == (
        "string",
        "min-min",
        ["mct", "min-min", "max-min", "sufferage", "lp"],
    )


@pytest.mark.parametrize("solver", ["ga", "local-search"])
def test_submit_job_with_a_bad_start_is_refused_before_it_is_queued(stub, small_problem, solver):
    error = rpc_error(
        stub.SubmitJob,
        scheduler_pb2.SubmitJobRequest(
            request=solve_request(small_problem, solver, evaluations=50, options={"start": "bogus"})
        ),
    )

    assert_invalid(error, "request.options.start")
    assert not list_jobs(stub).jobs


@pytest.mark.parametrize(
    "solver, options, field",
    [
        ("ga", {"crossover": math.nan}, "options.crossover"),
        ("aco", {"alpha": math.inf}, "options.alpha"),
        ("ga", {"population": 2.5}, "options.population"),
        ("qaoa", {"mixer": "z"}, "options.mixer"),
        ("pso", {"particles": 0}, "options.particles"),
    ],
)
def test_solve_refuses_an_option_its_declaration_rules_out(
    stub, small_problem, solver, options, field
):
    assert_invalid(
        rpc_error(solve, stub, small_problem, solver, evaluations=50, options=options), field
    )


def test_list_solvers_reports_configured_limits(server_stub):
    _, stub = server_stub(limits=Limits(max_tasks=10, max_machines=4), max_wall_seconds=120.0)

    response = stub.ListSolvers(scheduler_pb2.ListSolversRequest(), timeout=RPC_TIMEOUT)

    assert (response.max_tasks, response.max_machines, response.max_wall_seconds) == (10, 4, 120.0)


def test_compare_returns_results_in_request_order(stub, small_problem):
    order = ["sufferage", "min-min", "max-min"]
    response = stub.Compare(
        scheduler_pb2.CompareRequest(problem=small_problem, solvers=order, seed=5),
        timeout=RPC_TIMEOUT,
    )

    assert [r.solver for r in response.results] == order
    for result in response.results:
        assert result.stop_reason == scheduler_pb2.STOP_REASON_COMPLETED
        assert_complete_schedule(result.schedule, small_problem)
    direct = solve(stub, small_problem, "min-min")
    assert dict(response.results[1].schedule.assignment) == dict(direct.schedule.assignment)


def test_compare_three_heuristics_on_braun(stub, braun_problem):
    response = stub.Compare(
        scheduler_pb2.CompareRequest(problem=braun_problem, solvers=HEURISTICS), timeout=RPC_TIMEOUT
    )

    assert [r.solver for r in response.results] == HEURISTICS
    assert response.results[0].schedule.metrics.makespan_seconds == pytest.approx(
        BRAUN_MIN_MIN_MAKESPAN, abs=0.1
    )
    assert all(len(r.schedule.assignment) == 512 for r in response.results)


def test_compare_unknown_solver_names_its_position(stub, small_problem):
    error = rpc_error(
        stub.Compare,
        scheduler_pb2.CompareRequest(problem=small_problem, solvers=["min-min", "nope"]),
    )

    assert_invalid(error, "solvers[1]")


def test_compare_without_solvers_is_invalid(stub, small_problem):
    assert_invalid(
        rpc_error(stub.Compare, scheduler_pb2.CompareRequest(problem=small_problem)), "solvers"
    )


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
    error = rpc_error(
        stub.Compare, scheduler_pb2.CompareRequest(problem=small_problem, solvers=HEURISTICS)
    )
    assert_invalid(error, field)


@pytest.mark.parametrize(("mutate", "field"), BAD_PROBLEMS)
def test_submit_job_rejects_bad_problem_naming_the_request_field(
    stub, small_problem, mutate, field
):
    mutate(small_problem)
    error = rpc_error(
        stub.SubmitJob, scheduler_pb2.SubmitJobRequest(request=solve_request(small_problem))
    )

    assert_invalid(error, f"request.{field}")
    assert list_jobs(stub).jobs == []  # nothing was persisted


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        pytest.param({"solver": "no-such-solver"}, "solver", id="unknown-solver"),
        pytest.param({"options": {"xyz": 1}}, "options.xyz", id="unknown-option"),
        pytest.param({"wall": -1.0}, "budget.wall_seconds", id="negative-wall"),
        pytest.param({"wall": math.nan}, "budget.wall_seconds", id="nan-wall"),
        pytest.param(
            {"solver": "local-search", "options": {"start": "bogus"}, "evaluations": 10},
            "options.start",
            id="bad-option-value",
        ),
        pytest.param(
            {"solver": "local-search", "options": {"start": ["min-min"]}, "evaluations": 10},
            "options.start",
            id="bad-option-type",
        ),
    ],
)
def test_solve_rejects_bad_request_fields(stub, small_problem, fields, field):
    fields = dict(fields)
    solver = fields.pop("solver", "min-min")
    assert_invalid(rpc_error(stub.Solve, solve_request(small_problem, solver, **fields)), field)


def test_submit_job_rejects_bad_request_fields(stub, small_problem):
    assert_invalid(
        rpc_error(
            stub.SubmitJob,
            scheduler_pb2.SubmitJobRequest(request=solve_request(small_problem, "nope")),
        ),
        "request.solver",
    )
    assert_invalid(
        rpc_error(
            stub.SubmitJob,
            scheduler_pb2.SubmitJobRequest(request=solve_request(small_problem, wall=-5.0)),
        ),
        "request.budget.wall_seconds",
    )
    assert list_jobs(stub).jobs == []


def test_missing_problem_is_invalid(stub):
    assert_invalid(rpc_error(stub.Solve, scheduler_pb2.SolveRequest(solver="min-min")), "problem")
    assert_invalid(rpc_error(stub.SubmitJob, scheduler_pb2.SubmitJobRequest()), "request.problem")


def test_problem_over_the_server_task_limit_is_invalid(server_stub):
    _, stub = server_stub(limits=Limits(max_tasks=10))
    problem = make_small_problem()
    for i in range(6, 11):
        problem.tasks.add(id=f"t{i}", work=1.0)
    assert len(problem.tasks) == 11

    assert_invalid(rpc_error(stub.Solve, solve_request(problem)), "problem.tasks")
    del problem.tasks[10:]
    assert len(solve(stub, problem).schedule.assignment) == 10  # at the limit is fine


def test_message_over_the_size_limit_is_resource_exhausted(
    server_stub, braun_problem, small_problem
):
    _, stub = server_stub(max_message_bytes=64 * 1024)
    request = solve_request(braun_problem)
    assert request.ByteSize() > 64 * 1024

    error = rpc_error(stub.Solve, request)

    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert solve(
        stub, small_problem
    ).schedule.metrics.feasible  # the server still serves small requests


def test_server_caps_the_wall_budget(server_stub, small_problem):
    _, stub = server_stub(max_wall_seconds=0.5)

    started = time.monotonic()
    response = solve(stub, small_problem, "local-search", wall=30.0, timeout=10.0)

    assert time.monotonic() - started < 3.0
    assert response.stop_reason == scheduler_pb2.STOP_REASON_BUDGET
    assert 0.4 <= response.elapsed_seconds < 1.5


def test_server_applies_its_default_wall_budget(server_stub, small_problem):
    _, stub = server_stub(default_wall_seconds=0.5)

    response = solve(stub, small_problem, "local-search", timeout=10.0)

    assert response.stop_reason == scheduler_pb2.STOP_REASON_BUDGET
    assert 0.4 <= response.elapsed_seconds < 1.5


def test_solve_waiting_for_a_busy_worker_ends_at_its_deadline(server_stub, small_problem):
    _, stub = server_stub(workers=1)
    blocker = submit(stub, small_problem, "local-search", wall=30.0)
    wait_for_state(stub, blocker.id, scheduler_pb2.JOB_STATE_RUNNING)

    started = time.monotonic()
    error = rpc_error(stub.Solve, solve_request(small_problem), timeout=1.0)

    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 2.0
    stub.CancelJob(scheduler_pb2.CancelJobRequest(job_id=blocker.id), timeout=RPC_TIMEOUT)
    assert solve(stub, small_problem).schedule.metrics.feasible


def test_compare_under_a_deadline_shares_the_time_and_keeps_every_result(stub, braun_problem):
    request = scheduler_pb2.CompareRequest(
        problem=braun_problem,
        solvers=["local-search", "local-search"],
        budget=scheduler_pb2.Budget(wall_seconds=30),
        seed=1,
    )
    started = time.monotonic()
    response = stub.Compare(request, timeout=4.0)
    assert time.monotonic() - started < 4.0
    assert [r.stop_reason for r in response.results] == [scheduler_pb2.STOP_REASON_DEADLINE] * 2
    assert all(
        r.schedule.metrics.makespan_seconds <= BRAUN_MIN_MIN_MAKESPAN + 0.1
        for r in response.results
    )


def test_a_heuristic_stopped_by_its_budget_still_answers_with_a_complete_schedule(server_stub):
    """Sufferage takes seconds on 6,000 x 16; at a 0.1 s budget it stops, the rest of the
    tasks go by MCT, and the job succeeds with a full schedule."""
    _, stub = server_stub(grace_seconds=0.5)
    rows = np.random.default_rng(0).uniform(1.0, 100.0, size=(6000, 16))
    problem = hcsp.etc_problem(rows, "big")
    job = submit(stub, problem, "sufferage", wall=0.1)
    started = time.monotonic()
    ended = wait_until_ended(stub, job.id)
    assert time.monotonic() - started < 2.5
    assert ended.state == scheduler_pb2.JOB_STATE_SUCCEEDED
    assert ended.result.stop_reason == scheduler_pb2.STOP_REASON_BUDGET
    assert_complete_schedule(ended.result.schedule, problem)


def test_a_job_waiting_for_a_worker_is_queued_not_running(
    start_server, connect, small_problem, braun_problem
):
    server = start_server(workers=1)
    stub = scheduler_pb2_grpc.SchedulerServiceStub(connect(server))
    blocking = stub.Solve.future(
        solve_request(braun_problem, "local-search", wall=30.0), timeout=30
    )
    wait_for_worker(server)
    waiting = submit(stub, small_problem, "min-min")
    time.sleep(0.2)  # the dispatcher has taken the job and waits for the worker slot
    assert get_job(stub, waiting.id).state == scheduler_pb2.JOB_STATE_QUEUED

    server.stop(grace=0.5)
    assert (
        blocking.result().stop_reason == scheduler_pb2.STOP_REASON_CANCELLED
    )  # answered with its best so far

    restarted = start_server(workers=1)  # same db file
    stub = scheduler_pb2_grpc.SchedulerServiceStub(connect(restarted))
    assert wait_until_ended(stub, waiting.id).state == scheduler_pb2.JOB_STATE_SUCCEEDED


# --------------------------------------------------------------------------- crashes


def wait_for_worker(server, timeout=JOB_WAIT) -> int:
    """The pid of the one worker process the server runs (waits for it to start)."""
    deadline = time.monotonic() + timeout
    while not (pids := server.pool.active_pids()):
        assert time.monotonic() < deadline, "no worker process started"
        time.sleep(0.02)
    assert len(pids) == 1, pids
    return pids[0]


def wait_for_no_worker(server, timeout=5.0) -> None:
    deadline = time.monotonic() + timeout
    while server.pool.active_pids():
        assert time.monotonic() < deadline, (
            f"worker processes left running: {server.pool.active_pids()}"
        )
        time.sleep(0.02)


def test_killed_worker_fails_the_job_and_server_keeps_serving(
    server, stub, braun_problem, small_problem
):
    job = submit(stub, braun_problem, "local-search", wall=60.0)
    wait_for_state(stub, job.id, scheduler_pb2.JOB_STATE_RUNNING)

    os.kill(wait_for_worker(server), signal.SIGKILL)

    failed = wait_until_ended(stub, job.id)
    assert failed.state == scheduler_pb2.JOB_STATE_FAILED
    assert "process" in failed.error.lower()
    assert solve(stub, small_problem).schedule.metrics.feasible
    wait_for_no_worker(server)


def test_killed_worker_fails_the_solve_with_internal(server, stub, braun_problem, small_problem):
    call = stub.Solve.future(
        solve_request(braun_problem, "local-search", wall=60.0), timeout=RPC_TIMEOUT
    )

    os.kill(wait_for_worker(server), signal.SIGKILL)

    error = call.exception(timeout=RPC_TIMEOUT)
    assert error is not None and error.code() == grpc.StatusCode.INTERNAL
    assert "process" in error.details()
    assert solve(stub, small_problem).schedule.metrics.feasible


def test_compare_reports_a_killed_solver_as_failed_and_still_runs_the_others(
    server, stub, braun_problem
):
    request = scheduler_pb2.CompareRequest(
        problem=braun_problem,
        solvers=["local-search", "min-min"],
        budget=scheduler_pb2.Budget(wall_seconds=60.0),
    )
    call = stub.Compare.future(request, timeout=RPC_TIMEOUT)

    os.kill(wait_for_worker(server), signal.SIGKILL)

    killed, solved = call.result(timeout=RPC_TIMEOUT).results
    assert (killed.solver, killed.error.code) == ("local-search", code_pb2.INTERNAL)
    assert "process died" in killed.error.message and not killed.HasField("schedule")
    assert not solved.HasField("error")
    assert solved.schedule.metrics.makespan_seconds == pytest.approx(
        BRAUN_MIN_MIN_MAKESPAN, abs=0.1
    )


def test_client_leaving_stops_its_solve(server, stub, braun_problem):
    call = stub.Solve.future(
        solve_request(braun_problem, "local-search", wall=60.0), timeout=RPC_TIMEOUT
    )
    wait_for_worker(server)

    call.cancel()

    wait_for_no_worker(server, timeout=server.config.grace_seconds + 3.0)


# --------------------------------------------------------------------------- health, reflection


@pytest.mark.parametrize("service", ["", SERVICE])
def test_health_check_reports_serving(channel, service):
    health = health_pb2_grpc.HealthStub(channel)

    response = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=RPC_TIMEOUT)

    assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_service(channel):
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    reflection_requests = [
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE),
    ]

    listed, described = reflection.ServerReflectionInfo(
        iter(reflection_requests), timeout=RPC_TIMEOUT
    )

    names = [s.name for s in listed.list_services_response.service]
    assert SERVICE in names
    assert "grpc.health.v1.Health" in names
    assert described.file_descriptor_response.file_descriptor_proto, described
