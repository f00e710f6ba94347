"""`hybrid`: QAOA inside a classical large-neighbourhood search, for problems of any size.

A simulator holds tens of qubits; a cluster's problem has hundreds of tasks.
The hybrid solver keeps a full schedule and lets QAOA re-solve small windows
of it:

1. Start: Min-min, repaired, or (``start="milp"``) the exact MILP's
   incumbent after ``start_share`` of the wall budget; then polished by
   ``polish_steps`` local-search steps.
2. Window: the machine that finishes last plus ``window_machines - 1``
   others (drawn with weights favouring the least busy), and up to
   ``window_qubits / window_machines`` of the tasks on them (drawn at random,
   seeded), fewer if the capacity rows' slack bits would not fit
   ``window_qubits``. Everything else stays fixed.
3. Sub-QUBO: `allocation.TaskAllocation` on the window's tasks and machines,
   with the fixed tasks' work on those machines as ``base_load``, their
   demand taken off the capacities, at the incumbent's levels. The power cap
   is left out of the window (the repair and the evaluator keep it).
4. Sub-solver (``sub_solver``):
   - ``qaoa``: the engine, XY mixer started from the incumbent's window
     assignment, ``shots`` samples; angles by COBYLA with INTERP (depth
     ``depth``) on one window in ``reoptimize_every``, reused in between
     (`AngleCache`);
   - ``exhaustive`` (the ablation): every assignment of the window's tasks
     to its machines, so the quantum step is measured against an exact
     classical solver of the same subproblem.
   Both hand over their ``candidates`` best distinct window assignments by
   the program's objective (meeting its rows first).
5. Accept: each candidate, put back into the full schedule, repaired and
   polished by ``window_polish`` local-search steps (the window moves many
   tasks at once; the polish settles the rest around them), replaces the
   incumbent when the evaluator finds it better.

It runs until its budget ends. Facts report windows tried and accepted, and
where the accepted improvements came from, so the benchmark can say what the
QAOA step adds over its classical stand-in.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Annotated

import numpy as np

from qsched import registry
from qsched.construct import repaired_start
from qsched.evaluate import Evaluation
from qsched.neighbourhood import hill_climb
from qsched.options import Option
from qsched.problem import FieldViolation, Problem, ProblemError
from qsched.registry import SolverKind, register
from qsched.repair import levels_by_power, repair
from qsched.solver import Budget, ProgressCallback, Result, SolveTracker
from qsched.solvers.allocation import TaskAllocation
from qsched.solvers.backends import QUBIT_BUDGET
from qsched.solvers.engine import basis_bits
from qsched.solvers.qaoa import EngineQaoa

SUB_SOLVERS = ("qaoa", "exhaustive")
#: The least the milp start gets, when loading it took its whole share (it answers with Min-min).
MIN_START_SECONDS = 1e-3
STARTS = ("min-min", "milp")


class AngleCache:
    """QAOA angles shared across windows: optimized on one window, reused on the next
    ``every - 1`` (windows are QUBOs of one size and one scale, and good angles transfer
    between such instances: parameter concentration, Brandao et al. 2018), so most
    windows cost one state evolution instead of an optimizer loop."""

    def __init__(self, depth: int, evaluations: int, every: int):
        self.depth, self.evaluations, self.every = depth, evaluations, every
        self.uses = 0
        self.angles: tuple[np.ndarray, np.ndarray] | None = None

    def for_window(self, engine: EngineQaoa) -> tuple[np.ndarray, np.ndarray]:
        if self.angles is None or self.uses % self.every == 0:
            found = engine.optimize(self.depth, self.evaluations)
            self.angles = found.gammas, found.betas
        self.uses += 1
        return self.angles


@dataclasses.dataclass
class WindowStats:
    tried: int = 0
    accepted: int = 0
    qubits: int = 0


@register("hybrid", kind=SolverKind.QUANTUM, finite=False, backends=("engine",))
def hybrid(
    problem: Problem,
    budget: Budget,
    seed: int,
    progress: ProgressCallback | None = None,
    *,
    backend: Annotated[str, Option("where the windows' QAOA runs", choices=("engine",))] = "engine",
    sub_solver: Annotated[
        str,
        Option(
            "what solves a window: qaoa, or exhaustive (the classical ablation)",
            choices=SUB_SOLVERS,
        ),
    ] = "qaoa",
    window_qubits: Annotated[
        int, Option("most qubits of a window's QUBO", minimum=2, maximum=QUBIT_BUDGET["engine"])
    ] = 16,
    window_machines: Annotated[
        int, Option("machines per window", minimum=2, maximum=QUBIT_BUDGET["engine"])
    ] = 2,
    depth: Annotated[int, Option("QAOA layers", minimum=1, maximum=100)] = 2,
    shots: Annotated[int, Option("samples per window", minimum=1, maximum=1_000_000)] = 256,
    candidates: Annotated[
        int, Option("best window assignments tried in the full schedule", minimum=1, maximum=1_000)
    ] = 4,
    optimizer_evaluations: Annotated[
        int,
        Option(
            "expectation values per depth when angles are optimized", minimum=1, maximum=100_000
        ),
    ] = 30,
    polish_steps: Annotated[
        int, Option("hill-climbing steps on the start", minimum=0, maximum=1_000_000)
    ] = 200,
    window_polish: Annotated[
        int, Option("hill-climbing steps on each window candidate", minimum=0, maximum=1_000_000)
    ] = 20,
    reoptimize_every: Annotated[
        int,
        Option(
            "windows per angle optimization (the others reuse its angles)",
            minimum=1,
            maximum=1_000_000,
        ),
    ] = 10,
    start: Annotated[
        str,
        Option(
            "min-min (repaired), or milp: the MILP's incumbent after start_share "
            "of the wall budget",
            choices=STARTS,
        ),
    ] = "min-min",
    start_share: Annotated[
        float,
        Option(
            "share of the wall budget the milp start takes",
            minimum=0,
            maximum=1,
            exclusive_minimum=True,
            exclusive_maximum=True,
        ),
    ] = 0.5,
) -> Result:
    """QAOA windows in a classical schedule (large-neighbourhood search) until the budget ends."""
    tracker = SolveTracker(problem, budget, progress)
    rng = np.random.default_rng(seed)
    order = levels_by_power(problem)
    with tracker.stage("start"):
        current = _start(tracker, start, start_share)
    with tracker.stage("polish"):
        current = hill_climb(tracker, current, rng, polish_steps, stage="polish")
    stats = WindowStats()
    angles = AngleCache(depth, optimizer_evaluations, reoptimize_every)
    with tracker.stage("window"):
        while not tracker.exhausted and problem.num_machines > 1:
            window = fitting_window(problem, current, rng, window_qubits, window_machines)
            stats.tried += 1
            stats.qubits = max(stats.qubits, window.form.num_qubits)
            found = window.qaoa(angles, shots, rng) if sub_solver == "qaoa" else window.exhaustive()
            for assignment in window.best(found, candidates):
                if tracker.exhausted:
                    break
                candidate = repair(tracker, assignment, current.levels, order, stage="window")
                candidate = hill_climb(tracker, candidate, rng, window_polish, stage="window")
                if candidate.key < current.key:
                    current = candidate
                    stats.accepted += 1
    facts = {
        "sub_solver": sub_solver,
        "windows": stats.tried,
        "accepted_windows": stats.accepted,
        "max_window_qubits": stats.qubits,
    }
    return tracker.result("hybrid", completed=False, facts=facts)


def _start(tracker: SolveTracker, start: str, share: float) -> Evaluation:
    """Min-min repaired, or (``start="milp"``) the MILP's incumbent after ``share`` of the wall
    budget."""
    if start == "min-min":
        return repaired_start(tracker)
    budget = tracker.budget
    if budget.wall_seconds is None:
        raise ProblemError(
            [
                FieldViolation(
                    "options.start",
                    "the milp start takes a share of the wall-time budget: give one",
                )
            ]
        )
    registry.get("milp")  # imported on first use, and that counts against its share
    seconds = max(share * budget.wall_seconds - tracker.elapsed, MIN_START_SECONDS)
    result = registry.solve(tracker.problem, "milp", Budget(seconds, stop=budget.stop))
    return tracker.evaluate(result.evaluation.assignment, result.evaluation.levels, stage="start")


def choose_window(
    problem: Problem, current: Evaluation, rng: np.random.Generator, qubits: int, machines: int
) -> tuple[np.ndarray, np.ndarray]:
    """The last-finishing machine plus others weighted towards the least busy, and some of their
    tasks."""
    count = min(machines, problem.num_machines)
    latest = int(np.argmax(current.busy))
    others = np.delete(np.arange(problem.num_machines), latest)
    slack = current.busy.max() - current.busy[others] + 1e-9
    chosen = np.sort(
        np.concatenate(
            ([latest], rng.choice(others, count - 1, replace=False, p=slack / slack.sum()))
        )
    )
    on_window = np.flatnonzero(np.isin(current.assignment, chosen))
    size = max(1, qubits // count)
    tasks = (
        np.sort(rng.choice(on_window, min(size, on_window.size), replace=False))
        if on_window.size
        else on_window
    )
    return tasks, chosen


def fitting_window(
    problem: Problem, current: Evaluation, rng: np.random.Generator, qubits: int, machines: int
) -> Window:
    """A window whose QUBO, slack bits included, fits ``qubits``: tasks are dropped until it
    does."""
    tasks, chosen = choose_window(problem, current, rng, qubits, machines)
    window = Window(problem, current, tasks, chosen)
    while window.form.num_qubits > qubits and tasks.size > 1:
        tasks = tasks[:-1]
        window = Window(problem, current, tasks, chosen)
    return window


class Window:
    """The subproblem of ``tasks`` on ``machines`` with the rest of ``current`` fixed."""

    def __init__(
        self, problem: Problem, current: Evaluation, tasks: np.ndarray, machines: np.ndarray
    ):
        self.problem, self.current, self.tasks, self.machines = problem, current, tasks, machines
        fixed = np.ones(problem.num_tasks, dtype=bool)
        fixed[tasks] = False
        fixed_tasks = np.flatnonzero(fixed)
        placed = current.assignment[fixed_tasks]
        runtime = (
            problem.etc[fixed_tasks, placed] / problem.frequency[placed, current.levels[placed]]
        )
        base = np.bincount(placed, weights=runtime, minlength=problem.num_machines)[machines]
        fixed_demand = np.zeros((problem.num_machines, len(problem.resources)))
        np.add.at(fixed_demand, placed, problem.demand[fixed_tasks])
        self.sub = sub_problem(
            problem,
            tasks,
            machines,
            np.maximum(problem.capacity[machines] - fixed_demand[machines], 0.0),
        )
        position = {int(m): k for k, m in enumerate(machines)}
        self.start = np.array([position[int(m)] for m in current.assignment[tasks]], dtype=np.int64)
        self.allocation = TaskAllocation(
            self.sub, levels=current.levels[machines], incumbent=self.start, base_load=base
        )
        self.form = self.allocation.to_qubo()

    def qaoa(self, angles: AngleCache, shots: int, rng: np.random.Generator) -> list[np.ndarray]:
        """Window assignments sampled from QAOA (XY mixer from the incumbent's window
        assignment)."""
        initial = self.allocation.start_state(self.start, self.form.num_qubits)
        engine = EngineQaoa(self.form, self.allocation.one_hot_groups(), initial)
        gammas, betas = angles.for_window(engine)
        cells = self.tasks.size * self.machines.size
        states = engine.sample(gammas, betas, shots, rng)
        return [self.allocation.interpret(basis_bits(z, cells)) for z in sorted(states)]

    def exhaustive(self) -> list[np.ndarray]:
        """Every assignment of the window's tasks to its machines (the classical ablation)."""
        return [
            np.array(a)
            for a in itertools.product(range(self.machines.size), repeat=self.tasks.size)
        ]

    def best(self, window_assignments: list[np.ndarray], count: int) -> list[np.ndarray]:
        """The ``count`` best distinct ones by the program (meeting its rows first, then its
        objective), each put back into the full assignment."""
        program = self.form.program
        scored = {}
        for assignment in window_assignments:
            if np.any(assignment < 0):
                continue
            x = self.allocation.solution(assignment)
            scored[assignment.tobytes()] = (
                not program.is_feasible(x),
                self.allocation.objective(assignment),
                assignment,
            )
        ranked = sorted(scored.values(), key=lambda entry: (entry[0], entry[1], entry[2].tolist()))[
            :count
        ]
        full = []
        for _, _, assignment in ranked:
            schedule = self.current.assignment.copy()
            schedule[self.tasks] = self.machines[assignment]
            full.append(schedule)
        return full


def sub_problem(
    problem: Problem, tasks: np.ndarray, machines: np.ndarray, capacity: np.ndarray
) -> Problem:
    """``problem`` restricted to ``tasks`` on ``machines`` with the given remaining capacity, no
    power cap."""
    return dataclasses.replace(
        problem,
        task_ids=tuple(problem.task_ids[t] for t in tasks),
        machine_ids=tuple(problem.machine_ids[m] for m in machines),
        etc=problem.etc[np.ix_(tasks, machines)],
        demand=problem.demand[tasks],
        capacity=capacity,
        deadline=problem.deadline[tasks],
        frequency=problem.frequency[machines],
        level_count=problem.level_count[machines],
        idle_watts=problem.idle_watts[machines],
        busy_watts=problem.busy_watts[np.ix_(tasks, machines)],
        dynamic_scale=problem.dynamic_scale[machines],
        power_cap=np.inf,
    )
