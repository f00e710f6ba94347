"""How the planner solves a batch: in a worker process, or on a qsched gRPC server (``--server``).

Never in the extender's own process: a solve's Python parts (reading the
problem, the search's bookkeeping) would hold the GIL for whole seconds and
hold up the event loop answering kube-scheduler. The worker process is
started once, warmed, and reused for every plan.
"""

from __future__ import annotations

import multiprocessing
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np

from qsched.model import registry
from qsched.model.problem import FieldViolation, Problem, ProblemError
from qsched.model.solver import Budget
from qsched.service.client import ClientCredentials, connect
from qsched.service.errors import field_violations
from qsched.service.extender.batch import Batch, allocation_problem
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


class BatchRefused(ValueError):
    """The problem's validation refused some pods of a batch (indices into it).

    Plain arguments, so it crosses from the worker process intact (`ProblemError`
    does not pickle with its violations).
    """

    def __init__(self, tasks: tuple[int, ...], reason: str) -> None:
        super().__init__(tasks, reason)
        self.tasks = tasks
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


def refused(violations: Iterable[FieldViolation], prefix: str = "") -> BatchRefused:
    """The pods a list of field violations names (``{prefix}tasks[i]...``)."""
    violations = list(violations)
    pattern = re.compile(rf"^{re.escape(prefix)}tasks\[(\d+)\]")
    tasks = {int(m.group(1)) for v in violations if (m := pattern.match(v.field))}
    return BatchRefused(tuple(sorted(tasks)), "; ".join(str(v) for v in violations[:5]))


def solve_batch(
    solver: str, options: Mapping[str, Any], seed: int, batch: Batch, seconds: float
) -> Solved:
    """Build the problem and solve it (runs in the worker process)."""
    try:
        problem = Problem.from_message(allocation_problem(batch))
    except ProblemError as error:
        raise refused(error.violations) from None
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
    """Solve in a long-lived worker process (spawned: no threads inherited mid-flight).

    A solve that overruns its budget by more than `GRACE_SECONDS` (a worker killed
    or out of memory never answers at all) ends the worker; the next plan gets a fresh
    one. Returns the solve function and a function that shuts the worker down.
    """
    context = multiprocessing.get_context("spawn")
    pools = [context.Pool(1)]
    started = threading.Event()

    def solve(batch: Batch, seconds: float) -> Solved:
        pending = pools[0].apply_async(solve_batch, (solver, dict(options), seed, batch, seconds))
        grace = GRACE_SECONDS if started.is_set() else START_SECONDS
        try:
            solved: Solved = pending.get(timeout=seconds + grace)
        except multiprocessing.TimeoutError:
            pools[0].terminate()
            pools[0] = context.Pool(1)
            started.clear()
            raise
        started.set()
        return solved

    return solve, lambda: pools[0].terminate()


def remote_solve(
    address: str,
    solver: str,
    options: Mapping[str, Any],
    seed: int = 0,
    credentials: ClientCredentials = ClientCredentials(),
) -> Solve:
    """Solve on a qsched server's Solve RPC, with the wall budget as the call's deadline.

    The channel is `connect`'s, so a server with TLS, mutual TLS or bearer tokens is reached
    as every other client reaches it. It does not wait for the server: one that is down
    fails a plan (which falls back) rather than the extender's start.
    """
    stub = scheduler_pb2_grpc.SchedulerServiceStub(
        connect(address, credentials, ready_timeout=None)
    )

    def solve(batch: Batch, seconds: float) -> Solved:
        message = allocation_problem(batch)
        request = scheduler_pb2.SolveRequest(problem=message, solver=solver, seed=seed)
        request.options.update(options)
        request.budget.wall_seconds = seconds
        try:
            response = stub.Solve(request, timeout=seconds + GRACE_SECONDS)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise refused(field_violations(error), "problem.") from None
            raise
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
