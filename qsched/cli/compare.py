"""``qsched compare``: several solvers on one problem at one budget and seed, side by side."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from google.rpc import code_pb2, status_pb2

from qsched.cli.remote import server_stub
from qsched.cli.solve import solve_locally
from qsched.cli.solve_request import add_request_flags, solve_request
from qsched.formats import files
from qsched.formats.messages import failed_response, invalid_status
from qsched.formats.report import best_bound, results_table
from qsched.model.problem import ProblemError
from qsched.model.validation import SolveJob, problem_from, solve_job
from qsched.v1 import scheduler_pb2

if TYPE_CHECKING:
    from qsched.cli.flags import Commands


def add(commands: Commands) -> None:
    compare = commands.add_parser(
        "compare", help="several solvers on one problem at one budget, side by side"
    )
    compare.add_argument(
        "--solvers",
        default="min-min,matheuristic,tabu-search,ga,pso,aco,milp,cpsat",
        help="comma-separated solver names",
    )
    add_request_flags(compare, "compare on a qsched server (the Compare RPC)", "CompareResponse")
    compare.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Locally one solver after another, or through the Compare RPC."""
    solvers = [name.strip() for name in args.solvers.split(",") if name.strip()]
    request = solve_request(args, "")
    if args.server:
        compare = scheduler_pb2.CompareRequest(
            problem=request.problem,
            solvers=solvers,
            budget=request.budget,
            seed=request.seed,
            options=request.options,
            backend=request.backend,
        )
        comparison = server_stub(args).Compare(compare)
    else:
        problem = problem_from(request)
        jobs = [
            solve_job(request, name, problem, path=f"solvers[{i}]", comparing=True)
            for i, name in enumerate(solvers)
        ]
        comparison = compare_locally(jobs, False if args.json else None)
    if args.json:
        print(files.to_json(comparison, with_defaults=True))
    else:
        print(results_table(comparison.results))
    return 0


def compare_locally(
    jobs: list[SolveJob], show_progress: bool | None = None
) -> scheduler_pb2.CompareResponse:
    """The jobs one after another, as the Compare RPC runs them: a solver that raises
    becomes an entry with its error, and the others still run."""
    comparison = scheduler_pb2.CompareResponse()
    for job in jobs:
        started = time.monotonic()
        try:
            comparison.results.append(solve_locally(job, show_progress))
        except Exception as error:
            if isinstance(error, ProblemError):
                status = invalid_status(error.violations)
            else:
                status = status_pb2.Status(
                    code=code_pb2.INTERNAL,
                    message=f"{job.solver} failed: {type(error).__name__}: {error}",
                )
            comparison.results.append(
                failed_response(job.solver, job.backend, status, time.monotonic() - started)
            )
    if (bound := best_bound(comparison.results)) is not None:
        comparison.best_bound = bound
    return comparison
