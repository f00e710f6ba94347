"""Turn request messages into validated work: a `Problem` and a `SolveJob`.

All checks that name a request field live here, so `Solve`, `Compare` and
`SubmitJob` reject bad input with the same `INVALID_ARGUMENT` details.
"""

from __future__ import annotations

import math

from google.protobuf import json_format

from qsched import registry
from qsched.problem import FieldViolation, Problem, ProblemError
from qsched.service.config import ServiceConfig
from qsched.service.worker import SolveJob
from qsched.v1 import scheduler_pb2

DEFAULT_SOLVER = "min-min"


def problem_from(message, config: ServiceConfig) -> Problem:
    """Validate the request's ``problem`` field; violations are named from the request root."""
    if not message.HasField("problem"):
        raise ProblemError([FieldViolation("problem", "is required")])
    try:
        return Problem.from_message(message.problem, config.limits)
    except ProblemError as error:
        raise ProblemError([FieldViolation(f"problem.{v.field}", v.description) for v in error.violations]) from None


def budget_from(budget: scheduler_pb2.Budget, config: ServiceConfig) -> tuple[float, int | None]:
    """(wall seconds, evaluations) with the server's default and cap applied."""
    if not math.isfinite(budget.wall_seconds) or budget.wall_seconds < 0:
        raise ProblemError([FieldViolation("budget.wall_seconds", "must be a finite number >= 0")])
    wall = budget.wall_seconds or None
    evaluations = budget.evaluations or None
    if wall is None and evaluations is None:
        wall = config.default_wall_seconds
    return min(wall or config.max_wall_seconds, config.max_wall_seconds), evaluations


def solve_job(message, solver: str, problem: Problem, config: ServiceConfig, path: str = "solver") -> SolveJob:
    """A `SolveJob` for one solver of a `SolveRequest` or `CompareRequest`."""
    name = solver or DEFAULT_SOLVER
    try:
        spec = registry.get(name)
    except registry.UnknownSolverError as error:
        raise ProblemError([FieldViolation(path, str(error))]) from None
    options = json_format.MessageToDict(message.options)
    spec.check(problem, options)
    wall, evaluations = budget_from(message.budget, config)
    return SolveJob(problem, name, wall, evaluations, message.seed, options)
