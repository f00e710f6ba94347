"""``qsched demo``: a server on a free loopback port, a generated problem sent to it, the
classical solvers and the quantum stack compared on it."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from qsched.cli.flags import positive
from qsched.formats.generate import generate
from qsched.formats.report import results_table, schedule_summary
from qsched.v1 import scheduler_pb2

if TYPE_CHECKING:
    from qsched.cli.flags import Commands

#: Solvers the demo compares.
DEMO_SOLVERS = (
    "min-min",
    "max-min",
    "sufferage",
    "local-search",
    "tabu-search",
    "matheuristic",
    "ga",
    "pso",
    "aco",
)
#: The demo's quantum part: a problem small enough for a simulated QUBO, and who solves it.
DEMO_QUANTUM_SHAPE = (5, 2)
STOCK_STACK = "qaoa-reference"
DEMO_QUANTUM_SOLVERS = ("min-min", "qaoa", STOCK_STACK, "exhaustive")


def add(commands: Commands) -> None:
    demo = commands.add_parser(
        "demo", help="start a local server and solve a generated problem through it"
    )
    demo.add_argument("--tasks", type=positive(int), default=40)
    demo.add_argument("--machines", type=positive(int), default=6)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument(
        "--evaluations", type=positive(int), default=20000, help="evaluation budget per solver"
    )
    demo.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """The exit code is `demo_verdict`'s."""
    from qsched.service.client import scheduler_stub
    from qsched.service.server import Server

    problem = generate(args.tasks, args.machines, args.seed)
    with (
        tempfile.TemporaryDirectory() as scratch,
        Server("127.0.0.1:0", Path(scratch) / "jobs.db") as server,
    ):
        print(
            f"qsched server on {server.address}; problem {problem.name}: {args.tasks} tasks, "
            f"{args.machines} machines, power cap {problem.power_cap_watts:.0f} W"
        )
        stub = scheduler_stub(server.address)
        request = scheduler_pb2.CompareRequest(
            problem=problem,
            solvers=list(DEMO_SOLVERS),
            budget=scheduler_pb2.Budget(evaluations=args.evaluations),
            seed=args.seed,
        )
        classical = stub.Compare(request, timeout=600).results
        print(results_table(classical))
        solved = [r for r in classical if not r.HasField("error")]
        if solved:
            best = min(
                solved,
                key=lambda r: (not r.schedule.metrics.feasible, r.schedule.metrics.objective),
            )
            print(f"\nbest: {best.solver}\n")
            print(schedule_summary(best))

        small = generate(*DEMO_QUANTUM_SHAPE, args.seed)
        print(
            f"\nquantum: problem {small.name}, {len(small.tasks)} tasks, {len(small.machines)} "
            f"machines (qaoa on the built-in engine, {STOCK_STACK} on qiskit-aer, "
            "exhaustive = the optimum)"
        )
        quantum = scheduler_pb2.CompareRequest(
            problem=small,
            solvers=list(DEMO_QUANTUM_SOLVERS),
            seed=args.seed,
            budget=scheduler_pb2.Budget(wall_seconds=120),
        )
        quantum_results = stub.Compare(quantum, timeout=600).results
        print(results_table(quantum_results))
    code, verdict = demo_verdict([*classical, *quantum_results])
    if verdict:
        print(f"\n{verdict}", file=sys.stderr if code else sys.stdout)
    return code


def demo_verdict(results: Sequence[scheduler_pb2.SolveResponse]) -> tuple[int, str]:
    """The demo's exit code and what it says about failed solvers: a failure of one of
    qsched's own solvers fails the demo; the stock qiskit stack's is reported, not an error."""
    failed = [r.solver for r in results if r.HasField("error")]
    own = [solver for solver in failed if solver != STOCK_STACK]
    if own:
        return 1, f"qsched: {', '.join(own)} failed (see the table)"
    if failed:
        stock = f"The stock qiskit stack ({STOCK_STACK}) failed on this problem (see the table)"
        return 0, f"{stock}; qsched's own solvers did not."
    return 0, ""
