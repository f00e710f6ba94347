"""How the planner solves a batch: in this process, or on a qsched gRPC server (``--server``)."""

from __future__ import annotations

import grpc
import numpy as np

from qsched import registry
from qsched.problem import Problem
from qsched.service.extender.planner import Solve
from qsched.solver import Budget
from qsched.v1 import problem_pb2, scheduler_pb2, scheduler_pb2_grpc

#: Seconds a remote solve may take beyond its budget (transfer, queueing) before it is abandoned.
REMOTE_GRACE_SECONDS = 1.0


def local_solve(solver: str, seed: int = 0) -> Solve:
    """Solve with a registered solver in a planner thread (numba kernels release the GIL)."""
    spec = registry.get(solver)

    def solve(
        _: problem_pb2.AllocationProblem, problem: Problem, seconds: float
    ) -> tuple[np.ndarray, np.ndarray, float]:
        result = spec.run(problem, Budget(seconds), seed, None, {})
        evaluation = result.evaluation
        return evaluation.assignment, evaluation.levels, evaluation.objective

    return solve


def remote_solve(address: str, solver: str, seed: int = 0) -> Solve:
    """Solve on a qsched server's Solve RPC, with its wall budget as the call's deadline."""
    channel = grpc.insecure_channel(address)
    stub = scheduler_pb2_grpc.SchedulerServiceStub(channel)

    def solve(
        message: problem_pb2.AllocationProblem, problem: Problem, seconds: float
    ) -> tuple[np.ndarray, np.ndarray, float]:
        request = scheduler_pb2.SolveRequest(problem=message, solver=solver, seed=seed)
        request.budget.wall_seconds = seconds
        response = stub.Solve(request, timeout=seconds + REMOTE_GRACE_SECONDS)
        schedule = response.schedule
        machine = {name: m for m, name in enumerate(problem.machine_ids)}
        assignment = np.array([machine[schedule.assignment[t]] for t in problem.task_ids])
        levels = np.array([plan.dvfs_level for plan in schedule.machines], dtype=np.int64)
        return assignment, levels, schedule.metrics.objective

    return solve
