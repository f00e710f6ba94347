"""Requests into validated work: a `Problem` plus a `SolveJob` ready to run.

All checks that name a request field live here, so the CLI's local solves
and the service's `Solve`, `Compare` and `SubmitJob` reject bad input with
the same field paths (``problem.tasks[3].work``, ``solver``, ``options.start``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from qsched.model import registry
from qsched.model.problem import FieldViolation, Limits, Problem, ProblemError, quoted
from qsched.model.solver import Budget, ProgressCallback, Result, StopSignal
from qsched.v1 import scheduler_pb2

#: The requests a solve is made from: one solver's, or a comparison's (one solver at a time).
Request = scheduler_pb2.SolveRequest | scheduler_pb2.CompareRequest
DEFAULT_SOLVER = "min-min"
#: Wall time given to a solve whose budget sets neither time nor evaluations.
DEFAULT_WALL_SECONDS = 10.0
#: No solve runs longer than this, whatever its budget says.
MAX_WALL_SECONDS = 3600.0


@dataclass(frozen=True)
class BudgetPolicy:
    """How a request's budget is completed and capped."""

    default_wall_seconds: float = DEFAULT_WALL_SECONDS
    max_wall_seconds: float = MAX_WALL_SECONDS


@dataclass(frozen=True)
class SolveJob:
    """One validated solve: plain data, picklable to a worker process."""

    problem: Problem
    solver: str
    wall_seconds: float
    evaluations: int | None
    seed: int
    #: Every option of the solver, checked (`registry.SolverSpec.check`).
    options: dict[str, Any] = field(default_factory=dict)
    backend: str = ""

    def run(
        self, stop: StopSignal | None = None, progress: ProgressCallback | None = None
    ) -> Result:
        """Solve within the job's budget; ``stop`` asks for the best so far."""
        budget = Budget(self.wall_seconds, self.evaluations, stop)
        return registry.get(self.solver).run(
            self.problem, budget, self.seed, progress, self.options
        )


def problem_from(message: Request, limits: Limits = Limits()) -> Problem:
    """Validate the request's ``problem`` field; violations are named from the request root."""
    if not message.HasField("problem"):
        raise ProblemError([FieldViolation("problem", "is required")])
    try:
        return Problem.from_message(message.problem, limits)
    except ProblemError as error:
        raise ProblemError(
            [FieldViolation(f"problem.{v.field}", v.description) for v in error.violations]
        ) from None


def budget_from(
    budget: scheduler_pb2.Budget, policy: BudgetPolicy = BudgetPolicy()
) -> tuple[float, int | None]:
    """(wall seconds, evaluations): the default wall time when neither is set, and the cap
    always."""
    if not math.isfinite(budget.wall_seconds) or budget.wall_seconds < 0:
        raise ProblemError([FieldViolation("budget.wall_seconds", "must be a finite number >= 0")])
    evaluations = budget.evaluations or None
    wall = budget.wall_seconds or (
        policy.max_wall_seconds if evaluations else policy.default_wall_seconds
    )
    return min(wall, policy.max_wall_seconds), evaluations


def solve_job(
    message: Request,
    solver: str,
    problem: Problem,
    policy: BudgetPolicy = BudgetPolicy(),
    path: str = "solver",
    *,
    comparing: bool = False,
) -> SolveJob:
    """A `SolveJob` for one solver of a `SolveRequest` or (``comparing``) a `CompareRequest`,
    where the backend goes to the solvers that take one and classical solvers ignore it."""
    name = solver or DEFAULT_SOLVER
    try:
        spec = registry.get(name)
    except registry.UnknownSolverError as error:
        raise ProblemError([FieldViolation(path, str(error))]) from None
    violations = []
    options = dict(
        message.options.items()
    )  # not json_format: it refuses NaN, which must be a violation
    if (
        message.backend
        and not spec.accepts(message.backend)
        and not (comparing and not spec.backends)
    ):
        takes = (
            f"takes one of {', '.join(spec.backends)}"
            if spec.backends
            else "runs classically and takes no backend"
        )
        violations.append(
            FieldViolation("backend", f"{quoted(message.backend)} is not available: {name} {takes}")
        )
    elif message.backend and spec.backends:
        options["backend"] = message.backend
    try:
        checked = spec.check(problem, options)
    except ProblemError as error:
        violations.extend(error.violations)
    if violations:
        raise ProblemError(violations)
    wall, evaluations = budget_from(message.budget, policy)
    return SolveJob(
        problem, name, wall, evaluations, message.seed, checked, checked.get("backend", "")
    )
