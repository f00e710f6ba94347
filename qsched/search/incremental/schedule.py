"""`Schedule`: an assignment and DVFS levels whose figures follow single changes.

`qsched.model.evaluate.evaluate` recomputes every figure from an assignment, O(T log
T). A search that changes one task at a time needs less: moving a task,
swapping two or changing one machine's DVFS level updates makespan, energy,
tardiness, capacity and the power-cap check in O(1) to O(k log M) (k: tasks
on the machines involved; `qsched.search.incremental.state` has the bookkeeping,
`.power` the peak-draw bounds, `.climb` the compiled hill climb). The
figures agree with the full evaluator (a property test checks it after long
random move sequences), and searches still score what they keep through it.
"""

from __future__ import annotations

import numpy as np

from qsched.model.problem import Problem
from qsched.search.compiled import readonly
from qsched.search.incremental import climb, power, tabu
from qsched.search.incremental.state import (
    DYNAMIC,
    IDLE,
    TARDINESS,
    VIOLATIONS,
    last_machine,
    move,
    new_state,
    problem_constants,
    set_level,
)


class Schedule:
    """An assignment (T,) and levels (M,), as checked by `qsched.model.evaluate.check_assignment`;
    `move`, `swap` and `set_level` take in-range indices."""

    def __init__(self, problem: Problem, assignment: np.ndarray, levels: np.ndarray):
        self.problem = problem
        self._constants = problem_constants(problem)
        self._state = new_state(problem, assignment, levels)
        self._tunable = np.flatnonzero(problem.level_count > 1)
        self._counters = np.zeros(2, dtype=np.int64)
        # The climb's own key and power bounds for the current schedule: carried from one
        # `climb` call to the next untouched, so how a run is cut into calls never
        # changes its course; `_rekey` sets them afresh after a change from outside.
        self._climb_key = np.zeros(4)
        self._power = np.zeros(3)
        self._key = np.zeros(4)
        self._rekey()

    def _rekey(self) -> None:
        climb.exact_key(self._constants, self._state, self._climb_key, self._power)
        self._key[:] = self._climb_key

    @property
    def assignment(self) -> np.ndarray:
        return self._state.assignment.copy()

    @property
    def levels(self) -> np.ndarray:
        return self._state.levels.copy()

    def move(self, task: int, machine: int) -> None:
        move(self._constants, self._state, task, machine)
        self._rekey()

    def swap(self, task: int, other: int) -> None:
        home = int(self._state.assignment[task])
        move(self._constants, self._state, task, int(self._state.assignment[other]))
        move(self._constants, self._state, other, home)
        self._rekey()

    def set_level(self, machine: int, level: int) -> None:
        set_level(self._constants, self._state, machine, level)
        self._rekey()

    def assign(self, tasks: np.ndarray, machines: np.ndarray) -> None:
        """Move each of ``tasks`` to its machine in ``machines``; the key is computed once."""
        for task, machine in zip(tasks.tolist(), machines.tolist(), strict=True):
            move(self._constants, self._state, task, machine)
        self._rekey()

    @property
    def critical_machine(self) -> int:
        """The machine that finishes last (the lower index on ties)."""
        return last_machine(self._state)

    @property
    def busy(self) -> np.ndarray:
        """(M,) each machine's busy time at its level (a read-only view)."""
        return readonly(self._state.busy)

    @property
    def load(self) -> np.ndarray:
        """(M, R) each machine's summed demand (a read-only view)."""
        return readonly(self._state.load)

    def tasks_on(self, machine: int) -> np.ndarray:
        """The tasks on ``machine``, in EDF order."""
        first = self._state.first[machine]
        return self._state.slot_task[first : first + self._state.tasks_on[machine]].copy()

    def machines_of(self, tasks: np.ndarray) -> np.ndarray:
        machines: np.ndarray = self._state.assignment[tasks]
        return machines

    def levels_of(self, machines: np.ndarray) -> np.ndarray:
        levels: np.ndarray = self._state.levels[machines]
        return levels

    @property
    def key(self) -> tuple[bool, float, float]:
        """(infeasible, violation, objective), as `qsched.model.evaluate.Evaluation.key`."""
        return (
            bool(self._key[climb.INFEASIBLE]),
            float(self._key[climb.VIOLATION]),
            float(self._key[climb.OBJECTIVE]),
        )

    @property
    def makespan(self) -> float:
        return float(self._state.busy[self.critical_machine])

    @property
    def energy(self) -> float:
        totals = self._state.totals
        return float(totals[DYNAMIC] + self.makespan * totals[IDLE])

    @property
    def total_tardiness(self) -> float:
        return float(self._state.totals[TARDINESS])

    @property
    def capacity_violations(self) -> int:
        return int(self._state.totals[VIOLATIONS])

    @property
    def power_cap_excess(self) -> float:
        return float(self._key[climb.POWER_EXCESS])

    @property
    def peak_power(self) -> float:
        """The exact peak draw (a sweep, O(T log T)); 0 without a power model."""
        if not self.problem.models_power:
            return 0.0
        return float(power.peak(self._constants, self._state)[0])

    @property
    def proposals(self) -> int:
        """Proposals `climb` has made on this schedule."""
        return int(self._counters[climb.PROPOSALS])

    @property
    def sweeps(self) -> int:
        """Exact peak sweeps those proposals needed (the rest were settled by bounds)."""
        return int(self._counters[climb.SWEEPS])

    def machine_power(self) -> np.ndarray:
        """(M,) each machine's mean draw over the makespan, 0 when off: repair's measure."""
        state, makespan = self._state, self.makespan
        shares = state.shares
        energy = shares[:, DYNAMIC] + shares[:, IDLE] * makespan
        mean: np.ndarray = energy / max(makespan, 1e-300)
        return mean

    def climb(self, steps: int, seed: np.ndarray) -> int:
        """``steps`` accept-if-not-worse proposals drawn with ``seed`` (a (1,) uint64
        generator state, which advances); returns how many were accepted."""
        accepted = climb.climb(
            self._constants,
            self._state,
            seed,
            self._tunable,
            self._climb_key,
            self._power,
            self._counters,
            steps,
        )
        climb.exact_key(self._constants, self._state, self._key, np.zeros(3))
        return int(accepted)


class TabuSearch(Schedule):
    """A `Schedule` walked by `qsched.search.incremental.tabu.search`, which remembers its best.

    ``tenure``, ``patience``, ``kick`` and ``samples`` are the search's settings (see that
    module); the walk goes on across `run` calls as if it were one.
    """

    def __init__(
        self,
        problem: Problem,
        assignment: np.ndarray,
        levels: np.ndarray,
        *,
        tenure: int,
        patience: int,
        kick: int,
        samples: int,
    ):
        super().__init__(problem, assignment, levels)
        self._counters = np.zeros(tabu.COUNTERS, dtype=np.int64)
        self._settings = np.zeros(4, dtype=np.int64)
        self._settings[[tabu.TENURE, tabu.PATIENCE, tabu.KICK, tabu.SAMPLES]] = (
            tenure,
            patience,
            kick,
            samples,
        )
        self._tabu_until = np.zeros(problem.num_tasks, dtype=np.int64)
        self._best_key = self._climb_key.copy()
        self._best_busy = np.array([self._state.busy.sum()])
        self._best_assignment = self._state.assignment.copy()
        self._best_levels = self._state.levels.copy()

    def run(self, proposals: int, seed: np.ndarray) -> bool:
        """Go on for ``proposals`` more scored candidates; whether the best improved."""
        self._counters[tabu.IMPROVED] = 0
        tabu.search(
            self._constants,
            self._state,
            seed,
            self._tunable,
            self._climb_key,
            self._power,
            self._best_key,
            self._best_busy,
            self._best_assignment,
            self._best_levels,
            self._tabu_until,
            self._settings,
            self._counters,
            self.proposals + proposals,
        )
        climb.exact_key(self._constants, self._state, self._key, np.zeros(3))
        return bool(self._counters[tabu.IMPROVED])

    @property
    def best_assignment(self) -> np.ndarray:
        return self._best_assignment.copy()

    @property
    def best_levels(self) -> np.ndarray:
        return self._best_levels.copy()
