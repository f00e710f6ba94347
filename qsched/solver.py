"""The solver contract: ``solve(problem, budget, seed, progress, **options) -> Result``.

Every solver (greedy, metaheuristic, exact or quantum) has this shape. A
solver scores candidates only through `Search.evaluate` (which calls the one
evaluator), so the budget's evaluation count, the best-so-far schedule, the
convergence trace and the progress events are kept the same way for all of
them, and comparisons at equal budget are honest.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from qsched.evaluate import Evaluation, evaluate
from qsched.problem import Problem


class StopSignal(Protocol):
    """Anything with ``is_set()``: a `threading.Event`, a `multiprocessing.Event`."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class Budget:
    """What a solve may spend. ``None`` means unbounded; ``stop`` ends it early (cancel, deadline)."""

    wall_seconds: float | None = None
    evaluations: int | None = None
    stop: StopSignal | None = None

    def __post_init__(self) -> None:
        if self.wall_seconds is not None and not self.wall_seconds > 0:
            raise ValueError("budget.wall_seconds must be > 0")
        if self.evaluations is not None and self.evaluations < 1:
            raise ValueError("budget.evaluations must be >= 1")


@dataclass(frozen=True)
class TracePoint:
    """The best objective so far after ``elapsed`` seconds and ``evaluations`` evaluations."""

    elapsed: float
    evaluations: int
    objective: float
    feasible: bool
    stage: str


@dataclass(frozen=True)
class ProgressEvent:
    """A new best-so-far schedule; carries it so a stopped solve still has an answer."""

    point: TracePoint
    assignment: np.ndarray
    levels: np.ndarray


ProgressCallback = Callable[[ProgressEvent], None]


class StopReason(enum.Enum):
    COMPLETED = "completed"  # the solver finished its own search
    BUDGET = "budget"  # wall time or evaluations ran out
    CANCELLED = "cancelled"  # the stop signal was set
    DEADLINE = "deadline"  # the caller's deadline came first (set by the service)


@dataclass(frozen=True)
class Result:
    """A solver's answer: the best schedule's evaluation plus what it cost."""

    solver: str
    evaluation: Evaluation
    trace: tuple[TracePoint, ...]
    elapsed: float
    evaluations: int
    stop_reason: StopReason
    facts: dict[str, Any] = field(default_factory=dict)


def optimality_gap(objective: float, bound: float) -> float:
    """How far an objective is above a proven lower bound, relative to the objective
    (the MIP convention: 0 means proven optimal)."""
    return 0.0 if objective == bound else (objective - bound) / abs(objective)


class Search:
    """Budget keeper and best-so-far tracker that every solver evaluates through."""

    def __init__(self, problem: Problem, budget: Budget, progress: ProgressCallback | None = None):
        self.problem = problem
        self.budget = budget
        self.progress = progress
        self.evaluations = 0
        self.best: Evaluation | None = None
        self.trace: list[TracePoint] = []
        self._started = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._started

    @property
    def cancelled(self) -> bool:
        return self.budget.stop is not None and self.budget.stop.is_set()

    @property
    def exhausted(self) -> bool:
        """True once the wall time or evaluation budget is spent, or a stop was requested."""
        budget = self.budget
        if budget.evaluations is not None and self.evaluations >= budget.evaluations:
            return True
        if budget.wall_seconds is not None and self.elapsed >= budget.wall_seconds:
            return True
        return self.cancelled

    def evaluate(self, assignment, levels=None, stage: str = "search") -> Evaluation:
        """Evaluate one candidate, count it, and keep it if it is the best so far."""
        evaluation = evaluate(self.problem, assignment, levels)
        self.evaluations += 1
        if self.best is None or evaluation.key < self.best.key:
            self.best = evaluation
            point = TracePoint(self.elapsed, self.evaluations, evaluation.objective, evaluation.feasible, stage)
            self.trace.append(point)
            if self.progress is not None:
                self.progress(ProgressEvent(point, evaluation.assignment, evaluation.levels))
        return evaluation

    def result(self, solver: str, *, completed: bool, facts: dict[str, Any] | None = None) -> Result:
        """Package the best schedule; ``completed`` says the solver ended its search by itself."""
        if self.best is None:
            raise RuntimeError(f"{solver} stopped before evaluating any schedule")
        if self.cancelled:
            reason = StopReason.CANCELLED
        elif completed:
            reason = StopReason.COMPLETED
        else:
            reason = StopReason.BUDGET
        return Result(
            solver=solver,
            evaluation=self.best,
            trace=tuple(self.trace),
            elapsed=self.elapsed,
            evaluations=self.evaluations,
            stop_reason=reason,
            facts=dict(facts or {}),
        )
