"""The solver contract: ``solve(problem, budget, seed, progress, **options) -> Result``.

Every solver (greedy, metaheuristic, exact or quantum) has this shape. A
solver scores candidates only through `SolveTracker.evaluate` (which calls the one
evaluator), so the budget's evaluation count, the best-so-far schedule, the
convergence trace and the progress events are kept the same way for all of
them, and comparisons at equal budget are honest.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from qsched.evaluate import Evaluation, evaluate
from qsched.list_scheduling import list_schedule
from qsched.problem import Problem


class StopSignal(Protocol):
    """Anything with ``is_set()``: a `threading.Event`, a `multiprocessing.Event`."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class Budget:
    """What a solve may spend. ``None`` means unbounded; ``stop`` ends it early (cancel,
    deadline)."""

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
    #: A proven lower bound on the objective (exact solvers, the LP start), else None.
    bound: float | None = None
    #: Wall seconds of each pipeline stage, by stage name (multi-stage solvers).
    stage_seconds: dict[str, float] = field(default_factory=dict)
    #: Solver-specific extras (qubits, iterations, ...), JSON-ready values.
    facts: dict[str, Any] = field(default_factory=dict)


def gap(value: float, target: float) -> float:
    """How far ``value`` is above ``target`` (a proven bound, a best known value, an
    optimum), relative to the target: 0.05 is 5 % above it."""
    return 0.0 if value == target else (value - target) / abs(target)


def time_to_within(trace: Sequence[TracePoint], fraction: float = 0.01) -> float:
    """Seconds until the best so far was within ``fraction`` of the final best objective
    and as feasible as it (the trace's last point is the final best); 0 for no trace."""
    if not trace:
        return 0.0
    final = trace[-1]
    for point in trace:
        if point.feasible == final.feasible and point.objective <= final.objective + fraction * abs(
            final.objective
        ):
            return point.elapsed
    return final.elapsed


#: `SolveTracker.evaluations_left` without an evaluation budget.
UNLIMITED = 1 << 62


class SolveTracker:
    """Budget keeper and best-so-far tracker that every solver evaluates through."""

    def __init__(self, problem: Problem, budget: Budget, progress: ProgressCallback | None = None):
        self.problem = problem
        self.budget = budget
        self.progress = progress
        self.evaluations = 0
        self.best: Evaluation | None = None
        self.trace: list[TracePoint] = []
        self.stage_seconds: dict[str, float] = {}
        #: A lower bound on the objective proven on the way (the LP start's), if any.
        self.bound: float | None = None
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

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a stage of the solver's pipeline into the result's ``stage_seconds``."""
        started = self.elapsed
        try:
            yield
        finally:
            self.stage_seconds[name] = self.stage_seconds.get(name, 0.0) + self.elapsed - started

    @property
    def evaluations_left(self) -> int:
        """Evaluations the budget still allows (a large number without an evaluation budget)."""
        if self.budget.evaluations is None:
            return UNLIMITED
        return max(0, self.budget.evaluations - self.evaluations)

    def spend(self, evaluations: int) -> None:
        """Count candidates scored elsewhere (incrementally) and not kept."""
        self.evaluations += evaluations

    def evaluate(
        self,
        assignment: npt.ArrayLike,
        levels: npt.ArrayLike | None = None,
        stage: str = "search",
        spent: int = 1,
    ) -> Evaluation:
        """Evaluate one candidate, count it, and keep it if it is the best so far.

        ``spent``: the evaluations this one stands for, when a search scored
        ``spent`` candidates incrementally and evaluates only where it ended.
        """
        evaluation = evaluate(self.problem, assignment, levels)
        self.spend(spent)
        if self.best is None or evaluation.key < self.best.key:
            self.best = evaluation
            point = TracePoint(
                self.elapsed, self.evaluations, evaluation.objective, evaluation.feasible, stage
            )
            self.trace.append(point)
            if self.progress is not None:
                self.progress(ProgressEvent(point, evaluation.assignment, evaluation.levels))
        return evaluation

    def result(
        self,
        solver: str,
        *,
        completed: bool,
        bound: float | None = None,
        facts: dict[str, Any] | None = None,
    ) -> Result:
        """Package the best schedule; ``completed`` says the solver ended its search by itself;
        ``bound`` defaults to the tracker's.

        A solver stopped before it scored any schedule still answers: with MCT's, the
        O(T M) first schedule (stage ``"fallback"``).
        """
        if self.best is None:
            self.evaluate(list_schedule(self.problem, "mct"), stage="fallback")
            assert self.best is not None
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
            bound=self.bound if bound is None else bound,
            stage_seconds=dict(self.stage_seconds),
            facts=dict(facts or {}),
        )
