"""``qsched solve``: one solver on a problem file, here or through a qsched server."""

from __future__ import annotations

import argparse
import threading
import time
from typing import TYPE_CHECKING, Any

from qsched.cli.progress import SolveProgress
from qsched.cli.remote import server_stub
from qsched.cli.solve_request import add_request_flags, solve_request
from qsched.formats import files
from qsched.formats.messages import response_message
from qsched.formats.report import results_table, schedule_summary
from qsched.model.solver import ProgressEvent
from qsched.model.validation import SolveJob, problem_from, solve_job
from qsched.v1 import scheduler_pb2, scheduler_pb2_grpc

if TYPE_CHECKING:
    from qsched.cli.flags import Commands


def add(commands: Commands) -> None:
    solve = commands.add_parser("solve", help="solve a problem file (protobuf JSON or Braun ETC)")
    solve.add_argument("--solver", default="min-min")
    add_request_flags(solve, "solve through a qsched server instead of locally", "SolveResponse")
    solve.add_argument("--schedule", action="store_true", help="also print the per-machine plan")
    solve.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    request = solve_request(args, args.solver)
    show = False if args.json else None
    if args.server:
        response = solve_remotely(server_stub(args), request, show)
    else:
        response = solve_locally(solve_job(request, request.solver, problem_from(request)), show)
    if args.json:
        print(files.to_json(response, with_defaults=True))
        return 0
    print(results_table([response]))
    if args.schedule:
        print()
        print(schedule_summary(response))
    return 0


def solve_locally(job: SolveJob, show_progress: bool | None = None) -> scheduler_pb2.SolveResponse:
    """Solve a validated job in this process; Ctrl-C stops it with the best so far."""
    stop = threading.Event()
    latest: list[ProgressEvent] = []
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = job.run(stop, latest.append)
        except Exception as error:  # re-raised in the main thread
            outcome["error"] = error

    bar = SolveProgress(
        job.solver, job.wall_seconds if job.evaluations is None else None, show_progress
    )
    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    started = time.monotonic()
    try:
        while worker.is_alive():
            worker.join(0.1)
            if latest:
                bar.update(
                    time.monotonic() - started,
                    latest[-1].point.objective,
                    latest[-1].point.feasible,
                )
            else:
                bar.update(time.monotonic() - started)
    except KeyboardInterrupt:
        stop.set()
        worker.join()
    finally:
        bar.close()
    if "error" in outcome:
        raise outcome["error"]
    return response_message(job.problem, outcome["result"], job.backend)


def solve_remotely(
    stub: scheduler_pb2_grpc.SchedulerServiceStub,
    request: scheduler_pb2.SolveRequest,
    show_progress: bool | None = None,
) -> scheduler_pb2.SolveResponse:
    """Submit a job and watch it; Ctrl-C cancels it and keeps its best so far."""
    job = stub.SubmitJob(scheduler_pb2.SubmitJobRequest(request=request))
    bar = SolveProgress(job.solver, request.budget.wall_seconds or None, show_progress)
    try:
        for event in stub.WatchJob(scheduler_pb2.WatchJobRequest(job_id=job.id)):
            if event.HasField("progress"):
                point = event.progress
                bar.update(point.elapsed_seconds, point.objective, point.feasible)
    except KeyboardInterrupt:
        stub.CancelJob(scheduler_pb2.CancelJobRequest(job_id=job.id))
    finally:
        bar.close()
    ended: scheduler_pb2.Job = stub.GetJob(scheduler_pb2.GetJobRequest(job_id=job.id))
    if not ended.HasField("result"):
        state = scheduler_pb2.JobState.Name(ended.state)
        reason = ended.error or "no reason given"
        raise RuntimeError(f"job {ended.id} ended {state} without a schedule: {reason}")
    return ended.result
