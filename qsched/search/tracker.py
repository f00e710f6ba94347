"""The budget keeper every solver evaluates through: it counts evaluations against the
`Budget`, keeps the best schedule so far and its trace, reports progress, and ends with a
`Result` that always holds a schedule (an O(T M) list schedule when nothing else was found)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy.typing as npt

from qsched.model.evaluate import Evaluation, evaluate
from qsched.model.problem import Problem
from qsched.model.solver import (
    Budget,
    ProgressCallback,
    ProgressEvent,
    Result,
    StopReason,
    TracePoint,
)
from qsched.search.list_scheduling import list_schedule

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
