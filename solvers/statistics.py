"""What the QUBO solvers know about their samples and windows, as typed values.

The solvers build these as they run and hand them to their result's facts
(`Result.facts`, the JSON-ready mapping that the wire, the records and the
reports read) through ``facts()``, the one place where a field becomes a fact
name:

- `SampleStatistics`: how good a sampler's raw samples were before any
  repair (``qaoa``, ``qubo-sa``, ``qubo-tabu``; `decode.decode`);
- `WindowStatistics`: the hybrid's windows per sub-solver and in total
  (``hybrid``; `hybrid.WindowSearch`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class SampleStatistics:
    """The samples of one sampling step: distinct basis states, the distinct assignments they
    name, the share (by count) that meets the program as sampled, and the best objective among
    the repaired samples (None when the budget ended before any was decoded)."""

    distinct_samples: int
    distinct_assignments: int
    feasible_sample_share: float
    best_sample_objective: float | None = None

    def facts(self) -> dict[str, Any]:
        facts: dict[str, Any] = {
            "distinct_samples": self.distinct_samples,
            "distinct_assignments": self.distinct_assignments,
            "feasible_sample_share": self.feasible_sample_share,
        }
        if self.best_sample_objective is not None:
            facts["best_sample_objective"] = self.best_sample_objective
        return facts


@dataclass(frozen=True)
class SubSolverWindows:
    """One sub-solver's windows in a hybrid run: tried, accepted, those of the accepted that were
    plateau moves (the schedule's key kept, room made on the window's machines:
    `hybrid.WindowSearch._accept_best`), those where it offered nothing but the incumbent's
    assignment, and the objective's decrease summed over its accepted windows (negative where
    a window bought feasibility or less violation with objective)."""

    windows: int = 0
    accepted: int = 0
    without_candidates: int = 0
    improvement: float = 0.0
    plateau: int = 0

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.windows if self.windows else 0.0

    def counted(
        self, *, candidates: int, improvement: float | None, plateau: bool = False
    ) -> SubSolverWindows:
        """With one more window, which had ``candidates`` candidates and was accepted with
        ``improvement`` (as a plateau move if ``plateau``), or rejected (None)."""
        return SubSolverWindows(
            self.windows + 1,
            self.accepted + (improvement is not None),
            self.without_candidates + (candidates == 0),
            self.improvement + (improvement or 0.0),
            self.plateau + (improvement is not None and plateau),
        )

    def facts(self) -> dict[str, Any]:
        return {
            "windows": self.windows,
            "accepted": self.accepted,
            "plateau": self.plateau,
            "acceptance_rate": self.acceptance_rate,
            "without_candidates": self.without_candidates,
            "improvement": self.improvement,
        }


@dataclass(frozen=True)
class WindowStatistics:
    """Every sub-solver's windows (the totals are their sums) and the widest window's qubits."""

    by_sub_solver: Mapping[str, SubSolverWindows] = field(default_factory=dict)
    max_window_qubits: int = 0

    @classmethod
    def of(cls, names: list[str]) -> WindowStatistics:
        """No window yet, for each of the sub-solvers ``names``."""
        return cls({name: SubSolverWindows() for name in names})

    @property
    def windows(self) -> int:
        return sum(s.windows for s in self.by_sub_solver.values())

    @property
    def accepted_windows(self) -> int:
        return sum(s.accepted for s in self.by_sub_solver.values())

    @property
    def acceptance_rate(self) -> float:
        return self.accepted_windows / self.windows if self.windows else 0.0

    @property
    def plateau_windows(self) -> int:
        return sum(s.plateau for s in self.by_sub_solver.values())

    @property
    def windows_without_candidates(self) -> int:
        return sum(s.without_candidates for s in self.by_sub_solver.values())

    def counted(
        self,
        name: str,
        qubits: int,
        *,
        candidates: int,
        improvement: float | None,
        plateau: bool = False,
    ) -> WindowStatistics:
        """With one more window of ``qubits`` qubits for the sub-solver ``name``
        (`SubSolverWindows.counted`)."""
        one = self.by_sub_solver[name].counted(
            candidates=candidates, improvement=improvement, plateau=plateau
        )
        return replace(
            self,
            by_sub_solver={**self.by_sub_solver, name: one},
            max_window_qubits=max(self.max_window_qubits, qubits),
        )

    def facts(self) -> dict[str, Any]:
        return {
            "windows": self.windows,
            "accepted_windows": self.accepted_windows,
            "plateau_windows": self.plateau_windows,
            "acceptance_rate": self.acceptance_rate,
            "windows_without_candidates": self.windows_without_candidates,
            "max_window_qubits": self.max_window_qubits,
            "sub_solvers": {name: s.facts() for name, s in self.by_sub_solver.items()},
        }
