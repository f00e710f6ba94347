"""How the planner solves a batch: in a worker process, or on a qsched gRPC server (``--server``).

Never in the extender's own process: a solve's Python parts (reading the
problem, the search's bookkeeping) would hold the GIL for whole seconds and
hold up the event loop answering kube-scheduler. The worker process is
started once, warmed, and reused for every plan.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np

from qsched import registry
from qsched.problem import Problem
from qsched.service.extender.batch import Batch, allocation_problem
from qsched.solver import Budget
from qsched.v1 import scheduler_pb2, scheduler_pb2_grpc

#: Seconds a solve may take beyond its budget (transfer, reading the problem) before the
#: planner gives up on it.
GRACE_SECONDS = 5.0
#: The first solve also starts the worker process: imports and loading compiled kernels take
#: seconds, many more on a busy machine.
START_SECONDS = 120.0


@dataclass(frozen=True)
class Solved:
    """A solve's answer as the planner keeps it."""

    #: (T,) machine index per task.
    assignment: np.ndarray
    #: (M,) busy seconds and frequency factor of each machine under the answer.
    busy: np.ndarray
    frequency: np.ndarray
    objective: float


#: Solves a batch within a wall-clock budget (seconds).
Solve = Callable[[Batch, float], Solved]


def solve_batch(
    solver: str, options: Mapping[str, Any], seed: int, batch: Batch, seconds: float
) -> Solved:
    """Build the problem and solve it (runs in the worker process)."""
    problem = Problem.from_message(allocation_problem(batch))
    spec = registry.get(solver)
    result = spec.run(problem, Budget(seconds), seed, None, spec.check(problem, options))
    evaluation = result.evaluation
    machines = np.arange(problem.num_machines)
    return Solved(
        evaluation.assignment,
        evaluation.busy,
        problem.frequency[machines, evaluation.levels],
        evaluation.objective,
    )


def check_solver(solver: str, options: Mapping[str, Any], batch: Batch) -> None:
    """Fail at start-up, naming the field, on an unknown solver or a bad option."""
    registry.get(solver).check(Problem.from_message(allocation_problem(batch)), options)


def process_solve(
    solver: str, options: Mapping[str, Any], seed: int = 0
) -> tuple[Solve, Callable[[], None]]:
    """Solve in one long-lived worker process (spawned: no threads inherited mid-flight).

    Returns the solve function and a function that shuts the worker down.
    """
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))

    started = threading.Event()

    def solve(batch: Batch, seconds: float) -> Solved:
        future = pool.submit(solve_batch, solver, dict(options), seed, batch, seconds)
        grace = GRACE_SECONDS if started.is_set() else START_SECONDS
        solved = future.result(timeout=seconds + grace)
        started.set()
        return solved

    return solve, lambda: pool.shutdown(wait=False, cancel_futures=True)


def remote_solve(address: str, solver: str, options: Mapping[str, Any], seed: int = 0) -> Solve:
    """Solve on a qsched server's Solve RPC, with the wall budget as the call's deadline."""
    stub = scheduler_pb2_grpc.SchedulerServiceStub(grpc.insecure_channel(address))

    def solve(batch: Batch, seconds: float) -> Solved:
        message = allocation_problem(batch)
        request = scheduler_pb2.SolveRequest(problem=message, solver=solver, seed=seed)
        request.options.update(options)
        request.budget.wall_seconds = seconds
        response = stub.Solve(request, timeout=seconds + GRACE_SECONDS)
        schedule = response.schedule
        index = {machine.id: m for m, machine in enumerate(message.machines)}
        assignment = np.array([index[schedule.assignment[task.id]] for task in message.tasks])
        frequency = np.array(
            [
                machine.dvfs_levels[plan.dvfs_level].frequency if machine.dvfs_levels else 1.0
                for machine, plan in zip(message.machines, schedule.machines, strict=True)
            ]
        )
        busy = np.array([plan.busy_seconds for plan in schedule.machines])
        return Solved(assignment, busy, frequency, schedule.metrics.objective)

    return solve
