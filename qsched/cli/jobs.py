"""``qsched jobs``: list, get, watch or cancel jobs on a qsched server."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from qsched.cli.flags import positive
from qsched.cli.remote import add_server_flags, server_stub
from qsched.formats import files
from qsched.formats.report import results_table
from qsched.service.config import DEFAULT_ADDRESS
from qsched.v1 import scheduler_pb2, scheduler_pb2_grpc

if TYPE_CHECKING:
    from qsched.cli.flags import Commands

STATES = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")


def add(commands: Commands) -> None:
    jobs = commands.add_parser("jobs", help="list, get, watch or cancel jobs on a server")
    jobs.add_argument("action", choices=("list", "get", "watch", "cancel"))
    jobs.add_argument("job_id", nargs="?")
    add_server_flags(jobs, "the qsched server to ask", default=DEFAULT_ADDRESS)
    jobs.add_argument("--state", choices=STATES)
    jobs.add_argument("--limit", type=positive(int), default=50)
    jobs.add_argument("--json", action="store_true")
    jobs.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    stub = server_stub(args)
    if args.action == "list":
        return _list(stub, args)
    if not args.job_id:
        raise ValueError(f"jobs {args.action} needs a job id")
    if args.action == "watch":
        return _watch(stub, args.job_id)
    if args.action == "get":
        job = stub.GetJob(scheduler_pb2.GetJobRequest(job_id=args.job_id))
    else:
        job = stub.CancelJob(scheduler_pb2.CancelJobRequest(job_id=args.job_id))
    if args.json:
        print(files.to_json(job, with_defaults=True))
        return 0
    print(job_line(job))
    if job.error:
        print(f"error: {job.error}")
    if job.HasField("result"):
        print(results_table([job.result]))
    return 0


def _list(stub: scheduler_pb2_grpc.SchedulerServiceStub, args: argparse.Namespace) -> int:
    state = f"JOB_STATE_{args.state.upper()}" if args.state else "JOB_STATE_UNSPECIFIED"
    listing = stub.ListJobs(scheduler_pb2.ListJobsRequest(state=state, page_size=args.limit))
    for job in listing.jobs:
        print(files.to_json(job, with_defaults=True) if args.json else job_line(job))
    return 0


def _watch(stub: scheduler_pb2_grpc.SchedulerServiceStub, job_id: str) -> int:
    for event in stub.WatchJob(scheduler_pb2.WatchJobRequest(job_id=job_id)):
        if event.HasField("job"):
            print(job_line(event.job), flush=True)
        else:
            point = event.progress
            best = f"best {point.objective:.6g}  {point.stage}"
            print(
                f"  {point.elapsed_seconds:8.2f}s  {point.evaluations:>9} evals  {best}",
                flush=True,
            )
    return 0


def job_line(job: scheduler_pb2.Job) -> str:
    """One job on one line: id, state, solver, when it was made, its problem, best so far."""
    state = scheduler_pb2.JobState.Name(job.state).removeprefix("JOB_STATE_").lower()
    best = f"best {job.progress.objective:.6g}" if job.HasField("progress") else ""
    created = job.created_time.ToDatetime().strftime("%Y-%m-%d %H:%M:%S")
    return (
        f"{job.id}  {state:<11}  {job.solver:<13}  {created}  {job.problem_name}  {best}".rstrip()
    )
