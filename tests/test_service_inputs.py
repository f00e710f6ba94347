"""Hostile inputs found by the probe of `qsched serve`: each answered by field, bounded, logged
once, and the server keeps serving."""

from __future__ import annotations

import logging
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from service_helpers import (
    RPC_TIMEOUT,
    assert_invalid,
    list_jobs,
    make_small_problem,
    rpc_error,
    submit,
)

from qsched.model.problem import MAX_NAME_LENGTH
from qsched.service import store as store_module
from qsched.service.store import PRUNE_GRACE_SECONDS, JobStore
from qsched.v1 import scheduler_pb2, scheduler_pb2_grpc

METHODS = ("Solve", "Compare", "SubmitJob", "GetJob", "CancelJob", "ListJobs", "ListSolvers")


@pytest.mark.parametrize("method", [*METHODS, "WatchJob"])
def test_undecodable_bytes_are_invalid_argument_with_one_log_line(server, connect, caplog, method):
    channel = connect(server)
    path = f"/qsched.v1.SchedulerService/{method}"
    call = (channel.unary_stream if method == "WatchJob" else channel.unary_unary)(path)
    with caplog.at_level(logging.WARNING):
        error = rpc_error(call, b"\xff\xff\xff\xff")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    records = [r for r in caplog.records if "undecodable" in r.getMessage()]
    assert len(records) == 1 and records[0].exc_info is None  # one line, no traceback
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert health.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("method", ["GetJob", "WatchJob", "CancelJob"])
def test_a_huge_job_id_is_refused_by_field_not_echoed(server, connect, method):
    stub = scheduler_pb2_grpc.SchedulerServiceStub(connect(server))
    job_id = "x" * 20_000
    request = getattr(scheduler_pb2, f"{method}Request")(job_id=job_id)
    error = rpc_error(getattr(stub, method), request)
    assert_invalid(error, "job_id")
    assert len(error.details()) < 500


def test_long_names_and_ids_are_refused_by_field_before_anything_is_stored(server, connect):
    stub = scheduler_pb2_grpc.SchedulerServiceStub(connect(server))
    problem = make_small_problem()
    problem.name = "n" * 40_000
    problem.tasks[0].id = "t" * (MAX_NAME_LENGTH + 1)
    request = scheduler_pb2.SubmitJobRequest(
        request=scheduler_pb2.SolveRequest(problem=problem, solver="min-min")
    )
    error = rpc_error(stub.SubmitJob, request)
    assert_invalid(error, "request.problem.name")
    assert_invalid(error, "request.problem.tasks[0].id")
    assert len(error.details()) < 2_000
    listing = stub.ListJobs(scheduler_pb2.ListJobsRequest(), timeout=RPC_TIMEOUT)
    assert list(listing.jobs) == []


def test_duplicate_ids_are_quoted_cut_short(server, connect):
    stub = scheduler_pb2_grpc.SchedulerServiceStub(connect(server))
    problem = make_small_problem()
    problem.tasks[1].id = problem.tasks[0].id = "d" * MAX_NAME_LENGTH
    error = rpc_error(stub.Solve, scheduler_pb2.SolveRequest(problem=problem, solver="min-min"))
    assert_invalid(error, "problem.tasks[1].id")
    assert "d" * 100 not in error.details()


def test_list_pages_are_bounded_in_bytes_and_lose_no_job(tmp_path):
    store = JobStore(tmp_path / "jobs.db")
    request = scheduler_pb2.SolveRequest(problem=make_small_problem(), solver="min-min")
    added = [store.add(request).id for _ in range(12)]
    seen, before = [], None
    while True:
        page, before = store.list(0, 100, before, max_bytes=300)
        assert page and sum(job.ByteSize() for job in page) <= max(300, page[0].ByteSize())
        seen += [job.id for job in page]
        if before is None:
            break
    assert seen == added[::-1]
    store.close()


def test_retention_deletes_old_and_surplus_ended_jobs_only(tmp_path):
    store = JobStore(tmp_path / "jobs.db")
    request = scheduler_pb2.SolveRequest(problem=make_small_problem(), solver="min-min")
    ids = [store.add(request).id for _ in range(5)]
    for job_id in ids[:4]:
        store.finish(job_id, scheduler_pb2.JOB_STATE_SUCCEEDED)
    assert store.prune(None, max_jobs=2) == 0  # all ended just now: a reader may want them
    later = time.time() + 2 * PRUNE_GRACE_SECONDS
    assert store.prune(None, max_jobs=2, now=later) == 2
    remaining = [job.id for job in store.list(0, 100, None)[0]]
    assert remaining == [ids[4], ids[3], ids[2]]  # the queued job and the last two that ended
    assert store.prune(3600.0, None, now=time.time() + 7200) == 2
    assert [job.id for job in store.list(0, 100, None)[0]] == [ids[4]]
    store.close()


def test_the_server_keeps_at_most_max_ended_jobs(start_server, connect, monkeypatch):
    monkeypatch.setattr(store_module, "PRUNE_GRACE_SECONDS", 0.0)
    server = start_server(max_ended_jobs=1)
    stub = scheduler_pb2_grpc.SchedulerServiceStub(connect(server))
    ids = [submit(stub, make_small_problem(f"p{i}")).id for i in range(3)]
    wait_until(lambda: len(kept := list_jobs(stub).jobs) == 1 and kept[0].id in ids)


def wait_until(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.mark.parametrize("field", ["solver", "backend", "options"])
def test_huge_solver_backend_and_option_names_are_not_echoed(server, connect, field):
    stub = scheduler_pb2_grpc.SchedulerServiceStub(connect(server))
    request = scheduler_pb2.SolveRequest(problem=make_small_problem(), solver="min-min")
    huge = "z" * 20_000
    if field == "options":
        request.options.update({huge: 1})
    else:
        setattr(request, field, huge)
    error = rpc_error(stub.Solve, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len(error.details()) < 2_000
