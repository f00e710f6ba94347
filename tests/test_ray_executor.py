"""`qsched serve --executor ray`: solves as Ray tasks on a local Ray, same contract as the
worker processes (answers, progress, cancel with the best so far)."""

from __future__ import annotations

import pytest
from service_helpers import (
    RPC_TIMEOUT,
    make_small_problem,
    solve_request,
    submit,
    wait_for_progress,
    wait_for_state,
)

from qsched.service.client import connect
from qsched.service.config import ServiceConfig
from qsched.v1 import scheduler_pb2, scheduler_pb2_grpc

pytest.importorskip("ray")


@pytest.fixture(scope="module")
def on_ray(tmp_path_factory):
    from qsched.service.server import Server

    config = ServiceConfig(workers=2, grace_seconds=2.0, executor="ray")
    db = tmp_path_factory.mktemp("ray") / "jobs.db"
    with Server("127.0.0.1:0", db, config) as server:
        channel = connect(server.address)
        yield scheduler_pb2_grpc.SchedulerServiceStub(channel)
        channel.close()


def test_a_solve_runs_as_a_ray_task(on_ray) -> None:
    response = on_ray.Solve(solve_request(make_small_problem()), timeout=120)
    assert len(response.schedule.assignment) == 6


def test_a_cancelled_ray_job_keeps_its_best_schedule(on_ray, braun_problem) -> None:
    job = submit(on_ray, braun_problem, "local-search", wall=60.0)
    wait_for_progress(on_ray, job.id, timeout=120)
    on_ray.CancelJob(scheduler_pb2.CancelJobRequest(job_id=job.id), timeout=RPC_TIMEOUT)
    ended = wait_for_state(on_ray, job.id, scheduler_pb2.JOB_STATE_CANCELLED)
    assert len(ended.result.schedule.assignment) == 512
