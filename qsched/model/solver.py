"""The solver contract: ``solve(problem, budget, seed, progress, **options) -> Result``.

Every solver (greedy, metaheuristic, exact or quantum) has this shape. A
solver scores candidates only through `SolveTracker.evaluate` (which calls the one
evaluator), so the budget's evaluation count, the best-so-far schedule, the
convergence trace and the progress events are kept the same way for all of
them, and comparisons at equal budget are honest.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from qsched.model.evaluate import Evaluation


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
