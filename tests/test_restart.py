"""Jobs survive the server process: `qsched serve` killed (or stopped) and started again on the same
db."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from service_helpers import (
    CONNECT_TIMEOUT,
    JOB_WAIT,
    ROOT,
    RPC_TIMEOUT,
    list_jobs,
    make_small_problem,
    solve_request,
    submit,
    wait_for_job,
    wait_for_progress,
    wait_for_state,
)

from qsched.service.client import connect
from qsched.v1 import scheduler_pb2, scheduler_pb2_grpc

#: How long `qsched serve` may take to print its address.
START_TIMEOUT = 30.0
LISTENING = re.compile(r"listening on (127\.0\.0\.1:\d+)")


@dataclass
class ServeProcess:
    """A running ``qsched serve`` and a client connected to it."""

    process: subprocess.Popen
    address: str
    channel: grpc.Channel
    stub: scheduler_pb2_grpc.SchedulerServiceStub

    def kill(self) -> None:
        """SIGKILL the whole process group: the server, its forkserver and its workers."""
        self.channel.close()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM, the clean stop; returns the exit code."""
        self.channel.close()
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


def _wait_for_address(process: subprocess.Popen, out: Path, err: Path) -> str:
    """The address from the ``listening on 127.0.0.1:PORT`` line the server prints."""
    deadline = time.monotonic() + START_TIMEOUT
    while not (match := LISTENING.search(out.read_text())):
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(
                "`qsched serve` printed no 'listening on 127.0.0.1:PORT' line "
                f"within {START_TIMEOUT}s (exit code {process.poll()}):\n"
                f"stdout: {out.read_text()}\nstderr: {err.read_text()[-3000:]}"
            )
        time.sleep(0.05)
    return match[1]


@pytest.fixture
def serve(tmp_path):
    """Factory: ``serve(db)`` runs ``python -m qsched serve`` on 127.0.0.1:0; every process group is
    killed at teardown."""
    processes: list[subprocess.Popen] = []
    channels: list[grpc.Channel] = []

    def start(db: Path, workers: int | None = 1) -> ServeProcess:
        out, err = (
            tmp_path / f"serve-{len(processes)}.out",
            tmp_path / f"serve-{len(processes)}.err",
        )
        command = [
            sys.executable,
            "-m",
            "qsched",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            str(db),
        ]
        command += ["--workers", str(workers)] if workers else []
        with open(out, "w") as stdout, open(err, "w") as stderr:
            process = subprocess.Popen(
                command,
                stdout=stdout,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                cwd=ROOT,
                start_new_session=True,
            )
        processes.append(process)
        address = _wait_for_address(process, out, err)
        channel = connect(address, ready_timeout=CONNECT_TIMEOUT)
        channels.append(channel)
        return ServeProcess(
            process, address, channel, scheduler_pb2_grpc.SchedulerServiceStub(channel)
        )

    yield start
    for channel in channels:
        channel.close()
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _running_search_and_two_queued(stub, braun_problem) -> tuple[str, list[str]]:
    """A local-search job RUNNING on the only worker, then two Min-min jobs QUEUED behind it."""
    running = submit(stub, braun_problem, "local-search", wall=60.0)
    wait_for_progress(stub, running.id)
    queued = [submit(stub, make_small_problem(f"queued-{i}")).id for i in range(2)]
    for job_id in queued:
        job = stub.GetJob(scheduler_pb2.GetJobRequest(job_id=job_id), timeout=RPC_TIMEOUT)
        assert job.state == scheduler_pb2.JOB_STATE_QUEUED
    return running.id, queued


def _check_after_restart(stub, running_id: str, queued: list[str]) -> scheduler_pb2.Job:
    listed = list_jobs(stub)
    assert [j.id for j in listed.jobs] == [*queued[::-1], running_id]

    interrupted = stub.GetJob(scheduler_pb2.GetJobRequest(job_id=running_id), timeout=RPC_TIMEOUT)
    assert interrupted.state == scheduler_pb2.JOB_STATE_INTERRUPTED
    assert interrupted.error
    assert interrupted.HasField("end_time")
    for job_id in queued:
        done = wait_for_state(
            stub, job_id, scheduler_pb2.JOB_STATE_SUCCEEDED, scheduler_pb2.JOB_STATE_FAILED
        )
        assert done.state == scheduler_pb2.JOB_STATE_SUCCEEDED, done.error
        assert len(done.result.schedule.assignment) == 6
    return interrupted


def test_jobs_survive_a_killed_server_with_their_best_schedule(serve, tmp_path, braun_problem):
    db = tmp_path / "jobs.db"
    first = serve(db, workers=1)
    running_id, queued = _running_search_and_two_queued(first.stub, braun_problem)

    first.kill()
    second = serve(db, workers=1)

    interrupted = _check_after_restart(second.stub, running_id, queued)
    # kill -9 left no time to record anything: the best schedule saved with the job's
    # progress is its result.
    assert interrupted.HasField("result")
    assert len(interrupted.result.schedule.assignment) == 512
    assert interrupted.result.schedule.metrics.makespan_seconds > 0
    # The restarted server takes new work too.
    response = second.stub.Solve(solve_request(make_small_problem()), timeout=RPC_TIMEOUT)
    assert len(response.schedule.assignment) == 6


def test_jobs_survive_a_stopped_server_and_keep_their_best_schedule(serve, tmp_path, braun_problem):
    db = tmp_path / "jobs.db"
    first = serve(db, workers=1)
    running_id, queued = _running_search_and_two_queued(first.stub, braun_problem)

    assert first.terminate() == 0
    second = serve(db, workers=1)

    interrupted = _check_after_restart(second.stub, running_id, queued)
    # A clean stop records the running job's best schedule so far.
    assert interrupted.HasField("result")
    assert interrupted.result.stop_reason == scheduler_pb2.STOP_REASON_CANCELLED
    assert len(interrupted.result.schedule.assignment) == 512


def test_server_stop_interrupts_running_jobs_and_requeues_waiting_ones(
    start_server, connect, small_problem
):
    first = start_server(workers=1)
    stub = scheduler_pb2_grpc.SchedulerServiceStub(connect(first))
    running = submit(stub, small_problem, "local-search", wall=30.0)
    wait_for_progress(stub, running.id)
    queued = submit(stub, small_problem, "min-min")
    stream = stub.WatchJob(scheduler_pb2.WatchJobRequest(job_id=running.id), timeout=JOB_WAIT)
    assert next(stream).job.state == scheduler_pb2.JOB_STATE_RUNNING

    started = time.monotonic()
    first.stop(grace=0.5)

    assert time.monotonic() - started < first.config.grace_seconds + 5.0
    seen = [e.job.state for e in stream if e.WhichOneof("event") == "job"]
    assert (
        seen and seen[-1] == scheduler_pb2.JOB_STATE_INTERRUPTED
    )  # the watcher learns how the job ended

    second = start_server(workers=1)  # same db file
    stub = scheduler_pb2_grpc.SchedulerServiceStub(connect(second))
    interrupted = stub.GetJob(scheduler_pb2.GetJobRequest(job_id=running.id), timeout=RPC_TIMEOUT)
    assert interrupted.state == scheduler_pb2.JOB_STATE_INTERRUPTED
    assert interrupted.result.stop_reason == scheduler_pb2.STOP_REASON_CANCELLED
    assert len(interrupted.result.schedule.assignment) == len(small_problem.tasks)
    done = wait_for_state(
        stub, queued.id, scheduler_pb2.JOB_STATE_SUCCEEDED, scheduler_pb2.JOB_STATE_FAILED
    )
    assert done.state == scheduler_pb2.JOB_STATE_SUCCEEDED, done.error


def test_workers_of_a_killed_server_exit_by_themselves(serve, tmp_path, braun_problem):
    """SIGKILL to the server alone (not its group): its forkserver and workers must not run on."""
    first = serve(tmp_path / "jobs.db", workers=1)
    running = submit(first.stub, braun_problem, "local-search", wall=60.0)
    wait_for_job(
        first.stub, running.id, lambda j: j.state == scheduler_pb2.JOB_STATE_RUNNING, what="RUNNING"
    )
    group = os.getpgid(first.process.pid)
    first.channel.close()
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait(timeout=10)

    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)  # raises once no process of the group is left
        except ProcessLookupError:
            return
        time.sleep(0.05)
    pytest.fail("worker processes outlived their server by more than 10 s")


def test_serve_runs_with_its_defaults(serve, tmp_path, small_problem):
    server = serve(tmp_path / "jobs.db", workers=None)
    response = server.stub.Solve(solve_request(small_problem), timeout=RPC_TIMEOUT)
    assert len(response.schedule.assignment) == len(small_problem.tasks)
    assert server.terminate() == 0
