"""`hybrid`: QAOA inside a classical large-neighbourhood search, for problems of any size.

A simulator holds tens of qubits; a cluster's problem has thousands of tasks.
The hybrid solver keeps a full schedule and lets QAOA re-solve small windows
of it:

1. Start: a registered solver (`STARTS`: the matheuristic by default, the
   strongest classical solver here; the tabu search, Min-min, the local
   search, the MILP), run through the registry on
   ``start_share`` of the budget (of the wall time and of the evaluations,
   whichever are given), its schedule repaired; then polished by
   ``polish_steps`` proposals of the tabu search.
2. Window (`qsched.solvers.window`): the machine that finishes last plus
   ``window_machines - 1`` others (drawn with weights favouring those with
   room for its tasks: slack times one plus the number of its tasks that fit
   in it), and up to ``window_qubits / window_machines`` of their tasks,
   taken from each machine in turn (the critical machine first; each
   machine's drawn towards those that run cheaply on the window's other
   machines), fewer if the capacity rows' slack bits would not fit
   ``window_qubits``.
   Everything else stays fixed.
3. Sub-QUBO: `allocation.TaskAllocation` on the window's tasks and machines,
   with the fixed tasks' work on those machines as ``base_load``, their
   demand taken off the capacities, at the incumbent's levels, built straight
   from arrays. The power cap is left out of the window (the evaluator's key
   keeps it).
4. Sub-solver (``sub_solver``): ``qaoa`` (the engine, XY mixer started
   from the incumbent's window assignment, ``shots`` samples; angles by
   COBYLA with INTERP on CVaR at ``cvar_alpha`` (the mean cost of the best
   alpha of the samples, Barkoutsos et al. 2020: on <C> the optimizer keeps
   the state on the incumbent), depth ``depth``, on one window in
   ``reoptimize_every``, reused in between), or the ablations ``sa`` and
   ``tabu`` (QAOA's classical peers on the same window QUBO, ``shots``
   reads, ``sweeps`` and ``tabu_updates`` long, each set so that a window
   costs about what a QAOA window costs), ``exhaustive`` (every assignment
   of the window: an exact classical solver of the same subproblem) and
   ``random`` (``shots`` uniformly random assignments: chance at QAOA's
   number of samples). Each is a QUBO sampler made by name
   (`qsched.solvers.samplers`). ``mixed`` takes them in turn, one window each
   (`samplers.NAMES` order), on one evolving schedule: each faces the same
   kind of windows at the same stage of the search, so their acceptance
   rates compare within one run, where separate runs each meet a schedule
   that its own sub-solver has already worked over.
5. Accept: the ``candidates`` best distinct window assignments by the
   window's program (meeting its rows first; by default every distinct
   sample, `CANDIDATES`) are scored on the incremental schedule by moving
   only the window's tasks; the best replaces the
   incumbent when its key (feasibility, violation, objective) is better, or
   when it keeps the key and lowers the window's machines' last finish or
   busy time (a plateau move that makes room: `WindowSearch._accept_best`;
   it never worsens the key).
   Then ``window_polish`` hill-climbing steps on the incumbent settle the
   rest around the window (accept-if-not-worse, so they never make it worse).

Every step of a window costs O(window) (O(window + M) for drawing its
machines): the schedule is the incremental one, and the incumbent is handed
to the tracker (a full evaluation) only when it improved, at most every
`REPORT_SECONDS` and once at the end. It runs until its budget ends; it
looks at the budget and at "stop" between windows and before each state
evolution of the angle optimizer (the one long step), and the milp start
stops in HiGHS's callback, so a stopped solve answers with its incumbent
within hundredths of a second in the windows and about a second in the
MILP. The run's `statistics.WindowStatistics` go into the facts: the windows
tried and accepted, the acceptance rate and the windows whose sub-solver
offered nothing but the incumbent's assignment, in total and per sub-solver
(``sub_solvers``: windows, accepted, plateau (the accepted plateau moves),
acceptance_rate, without_candidates, and
improvement, the objective's decrease summed over the sub-solver's accepted
windows: negative where a window bought feasibility or less violation with
objective), so every run and every benchmark report says what the QAOA step
adds over its classical stand-ins.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Annotated, Any

import numpy as np

from qsched.model import registry
from qsched.model.evaluate import Evaluation
from qsched.model.options import Option
from qsched.model.problem import FieldViolation, Problem, ProblemError
from qsched.model.registry import SolverKind, register
from qsched.model.solver import Budget, ProgressCallback, ProgressEvent, Result
from qsched.search.incremental.schedule import Schedule
from qsched.search.neighbourhood import TABU, tabu_search
from qsched.search.repair import levels_by_power, repair
from qsched.search.tracker import SolveTracker
from qsched.solvers import backends
from qsched.solvers.samplers import NAMES, SWEEPS, SamplerSettings, make_sampler
from qsched.solvers.sampling import QuboSampler
from qsched.solvers.statistics import WindowStatistics
from qsched.solvers.window import (
    CVAR_ALPHA,
    TABU_UPDATES,
    AngleCache,
    StopRequested,
    Window,
    candidate_score,
    fitting_window,
    makes_room,
    ranked,
    room,
    window_assignments,
)

#: The ``sub_solver`` that takes every sampler of `samplers.NAMES` in turn.
MIXED = "mixed"
#: Window assignments scored on the full schedule, by default: as many as the default shots,
#: so every distinct sample is. The window's program ranks them poorly for the schedule's key
#: (on a tabu-search start of Braun 1,024 x 32 u_c_lohi the assignments that lower the makespan
#: ranked 15th to 112th of 256, and QAOA sampled them in 9 of the 10 windows that had them, but
#: the old 4 never reached them), and each costs one evaluation of O(moved tasks).
CANDIDATES = 256
#: Registered solvers the hybrid can start from.
STARTS = ("matheuristic", "tabu-search", "min-min", "local-search", "milp")
#: Starts that an evaluation budget does not bound (HiGHS runs until it proves optimality).
WALL_TIME_STARTS = frozenset({"milp"})
#: The least the start gets, when loading it took its whole share (it answers with its first
#: schedule).
MIN_START_SECONDS = 1e-3
#: Least wall time between two hand-overs of an improved incumbent to the tracker (each is a
#: full evaluation, O(T log T)); the last one is always made.
REPORT_SECONDS = 0.05


#: Window size by backend when ``window_qubits`` is 0: windows whose QAOA step costs about
#: the same on either backend, the GPU's wider because its layers are faster at that width
#: (benchmarks/results/gpu-engine.md).
WINDOW_QUBITS = {"engine": 16, "gpu": 26}


def window_qubits_for(backend: str, window_qubits: int) -> int:
    """The window size asked for, or the backend's (`WINDOW_QUBITS`) when 0."""
    return window_qubits or WINDOW_QUBITS[backend]


def check_hybrid(problem: Problem, options: Mapping[str, Any]) -> list[FieldViolation]:
    """A backend that is not here (``gpu`` without a CUDA device), windows wider than the
    backend takes, and the start solver's own refusals of this problem (the MILP's size
    limit), as the start option's."""
    backend = options["backend"]
    try:
        limit = backends.device(backend).max_qubits
    except backends.BackendError as error:
        return [FieldViolation("backend", str(error))]
    if options["window_qubits"] == 1:
        return [FieldViolation("options.window_qubits", "a window takes at least 2 qubits")]
    if window_qubits_for(backend, options["window_qubits"]) > limit:
        return [
            FieldViolation(
                "options.window_qubits",
                f"backend {backend} takes windows of at most {limit} qubits",
            )
        ]
    start = options["start"]
    try:
        registry.get(start).check(problem, {})
    except ProblemError as error:
        return [
            FieldViolation(
                "options.start", f"{start} cannot start this problem: {v.field} {v.description}"
            )
            for v in error.violations
        ]
    return []


@register(
    "hybrid",
    kind=SolverKind.QUANTUM,
    finite=False,
    backends=tuple(WINDOW_QUBITS),
    check=check_hybrid,
)
def hybrid(
    problem: Problem,
    budget: Budget,
    seed: int,
    progress: ProgressCallback | None = None,
    *,
    backend: Annotated[
        str,
        Option(
            "where the windows' QAOA runs: the CPU engine, or its CUDA kernels (gpu)",
            choices=tuple(WINDOW_QUBITS),
        ),
    ] = "engine",
    sub_solver: Annotated[
        str,
        Option(
            "what solves a window: qaoa, the classical ablations sa and tabu (QAOA's peers on "
            "the window QUBO), exhaustive (every assignment) and random (shots uniform "
            "samples), or mixed (each in turn, one window each)",
            choices=(*NAMES, MIXED),
        ),
    ] = "qaoa",
    window_qubits: Annotated[
        int,
        Option(
            "most qubits of a window's QUBO (0: the backend's, 16 on engine, 26 on gpu)",
            minimum=0,
            maximum=backends.QUBIT_BUDGET["gpu"],
        ),
    ] = 0,
    window_machines: Annotated[
        int, Option("machines per window", minimum=2, maximum=backends.QUBIT_BUDGET["engine"])
    ] = 2,
    depth: Annotated[int, Option("QAOA layers", minimum=1, maximum=100)] = 2,
    shots: Annotated[int, Option("samples per window", minimum=1, maximum=1_000_000)] = 256,
    sweeps: Annotated[
        int, Option("Metropolis sweeps per read of an sa window", minimum=1, maximum=1_000_000)
    ] = SWEEPS,
    tabu_updates: Annotated[
        int,
        Option(
            "variable updates per tabu search of a tabu window (one restart)",
            minimum=1,
            maximum=100_000_000,
        ),
    ] = TABU_UPDATES,
    candidates: Annotated[
        int,
        Option(
            "best window assignments (by the window's program) scored on the full schedule",
            minimum=1,
            maximum=1_000,
        ),
    ] = CANDIDATES,
    optimizer_evaluations: Annotated[
        int,
        Option(
            "expectation values per depth when angles are optimized", minimum=1, maximum=100_000
        ),
    ] = 30,
    polish_steps: Annotated[
        int, Option("tabu-search proposals on the start", minimum=0, maximum=1_000_000)
    ] = 200,
    window_polish: Annotated[
        int,
        Option(
            "hill-climbing steps on the incumbent after each window", minimum=0, maximum=1_000_000
        ),
    ] = 20,
    cvar_alpha: Annotated[
        float,
        Option(
            "share of the probability mass whose mean cost the window angles minimize "
            "(CVaR; 1: the mean, <C>)",
            minimum=0,
            maximum=1,
            exclusive_minimum=True,
        ),
    ] = CVAR_ALPHA,
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
            "registered solver whose schedule (repaired) the windows start from, run on "
            "start_share of the budget; milp needs a wall-time budget",
            choices=STARTS,
        ),
    ] = "matheuristic",
    start_share: Annotated[
        float,
        Option(
            "share of the budget (wall time and evaluations) the start may take",
            minimum=0,
            maximum=1,
            exclusive_minimum=True,
            exclusive_maximum=True,
        ),
    ] = 0.8,  # windows seldom improve a converged schedule: the start earns most of it
) -> Result:
    """QAOA windows in a classical schedule (large-neighbourhood search) until the budget ends."""
    tracker = SolveTracker(problem, budget, progress)
    rng = np.random.default_rng(seed)
    with tracker.stage("start"):
        current = _start(tracker, start, start_share, seed)
    with tracker.stage("polish"):
        current = tabu_search(tracker, current, rng, TABU, polish_steps, stage="polish")
    settings = SamplerSettings(
        angles=AngleCache(
            depth,
            optimizer_evaluations,
            reoptimize_every,
            lambda: tracker.exhausted,
            cvar_alpha,
        ),
        device=backends.device(backend),
        sweeps=sweeps,
        tabu_restarts=1,
        tabu_updates=tabu_updates,
    )
    names = NAMES if sub_solver == MIXED else (sub_solver,)
    search = WindowSearch(
        tracker,
        current,
        rng,
        [make_sampler(name, settings) for name in names],
        WindowSettings(
            window_qubits_for(backend, window_qubits),
            window_machines,
            candidates,
            window_polish,
            shots,
        ),
    )
    with tracker.stage("window"):
        search.run()
    facts = {"backend": backend, "sub_solver": sub_solver, "start": start}
    facts |= search.statistics.facts()
    return tracker.result("hybrid", completed=False, facts=facts)


def _start(tracker: SolveTracker, name: str, share: float, seed: int) -> Evaluation:
    """The named solver's schedule after its share of the budget, repaired. Its best-so-far
    schedules reach this solve's tracker as they come, so a solve stopped during the start
    answers with the start's incumbent."""
    registry.get(name)  # imported on first use, and that counts against its share

    def forward(event: ProgressEvent) -> None:
        tracker.evaluate(event.assignment, event.levels, stage="start", spent=0)

    result = registry.solve(
        tracker.problem, name, _start_budget(tracker, name, share), seed, forward
    )
    tracker.spend(result.evaluations)
    schedule = result.evaluation
    if tracker.exhausted:
        return schedule
    order = levels_by_power(tracker.problem)
    return repair(tracker, schedule.assignment, schedule.levels, order, stage="start")


def _start_budget(tracker: SolveTracker, name: str, share: float) -> Budget:
    """``share`` of each bound of the budget (less the wall time already spent), and its stop
    signal."""
    budget = tracker.budget
    if name in WALL_TIME_STARTS and budget.wall_seconds is None:
        raise ProblemError(
            [
                FieldViolation(
                    "options.start",
                    f"the {name} start takes a share of the wall-time budget: give one",
                )
            ]
        )
    wall = (
        None
        if budget.wall_seconds is None
        else max(share * budget.wall_seconds - tracker.elapsed, MIN_START_SECONDS)
    )
    evaluations = None if budget.evaluations is None else max(1, int(share * budget.evaluations))
    return Budget(wall, evaluations, budget.stop)


@dataclasses.dataclass(frozen=True)
class WindowSettings:
    qubits: int
    machines: int
    candidates: int
    polish: int
    shots: int


class WindowSearch:
    """The window loop (module docstring, steps 2-5) on a live incremental schedule, the
    ``samplers`` in turn, one window each."""

    def __init__(
        self,
        tracker: SolveTracker,
        start: Evaluation,
        rng: np.random.Generator,
        samplers: list[QuboSampler],
        settings: WindowSettings,
    ):
        self.tracker, self.rng, self.samplers, self.settings = tracker, rng, samplers, settings
        self.schedule = Schedule(tracker.problem, start.assignment, start.levels)
        self.seed = np.array([rng.integers(1 << 63)], dtype=np.uint64)
        self.statistics = WindowStatistics.of([sampler.name for sampler in samplers])
        self.turn = 0
        self.reported, self.reported_at = self.schedule.key, tracker.elapsed

    def run(self) -> None:
        """Windows until the budget ends or stop is set, the samplers in turn; the incumbent
        then goes to the tracker."""
        problem, settings, tracker = self.tracker.problem, self.settings, self.tracker
        while problem.num_machines > 1 and not tracker.exhausted:
            window = fitting_window(
                problem, self.schedule, self.rng, settings.qubits, settings.machines
            )
            if window is None:
                tracker.spend(1)
                continue
            sampler = self.samplers[self.turn % len(self.samplers)]
            try:
                found = window_assignments(window, sampler, settings.shots, self.rng)
            except StopRequested:
                break
            self.turn += 1
            self._settle(window, found, sampler.name)
        self._report(final=True)

    def _settle(self, window: Window, found: np.ndarray, name: str) -> None:
        """Take the window's best candidate if better, count the window for its sub-solver,
        polish, report."""
        count = min(self.settings.candidates, self.tracker.evaluations_left)
        candidates = ranked(window, found, count)
        before = self.schedule.key
        improvement = self._accept_best(window, candidates)
        self.statistics = self.statistics.counted(
            name,
            window.num_qubits,
            candidates=len(candidates),
            improvement=improvement,
            plateau=self.schedule.key == before,
        )
        self._polish()
        self._report(final=False)

    def _accept_best(self, window: Window, candidates: np.ndarray) -> float | None:
        """Move the window's tasks as the best candidate says if it beats the incumbent or
        holds its key and makes room, and return the objective's decrease (None if no candidate
        was taken; 0 for a plateau move); each candidate scored counts as an evaluation (a
        window as at least one).

        A candidate beats the incumbent when the schedule's key (infeasible, violation,
        objective: the evaluator's) is lower. A plateau move keeps the key exactly and lowers
        the window's machines' last finish, or keeps it and lowers their summed busy time
        (`window.makes_room`, by more than rounding). With a makespan objective this is what
        the start leaves the windows: its single moves and swaps are exhausted and another
        machine finishes within rounding of the critical one, so no window of the critical
        machine and one partner can lower the makespan itself, but it can take work off the
        critical machine; once every machine at the makespan has been relieved so, the next
        window lowers it (tabu search and matheuristics accept such sideways moves to leave a
        plateau). It never worsens the evaluator's objective: a candidate is taken only when
        its key is at most the incumbent's, and the key's objective is the evaluator's. Among
        the candidates the lowest (key, room) is taken.
        """
        before = self.schedule.key
        best: tuple[tuple[bool, float, float], tuple[float, float]] | None = None
        chosen = None
        room_before = room(self.schedule, window.machines)
        for candidate in candidates:
            key, made = candidate_score(self.schedule, window, candidate)
            takes = key < before or (key == before and makes_room(made, room_before))
            if takes and (best is None or (key, made) < best):
                best, chosen = (key, made), candidate
        self.tracker.spend(max(1, len(candidates)))
        if best is None or chosen is None:
            return None
        moved = chosen != window.start
        self.schedule.assign(window.tasks[moved], window.machines[chosen[moved]])
        return before[2] - best[0][2]

    def _polish(self) -> None:
        steps = min(self.settings.polish, self.tracker.evaluations_left)
        if steps:
            self.schedule.climb(steps, self.seed)
            self.tracker.spend(steps)

    def _report(self, *, final: bool) -> None:
        """Hand an improved incumbent to the tracker: at the end, or once `REPORT_SECONDS` have
        passed since the last hand-over."""
        tracker = self.tracker
        if self.schedule.key < self.reported and (
            final or tracker.elapsed - self.reported_at >= REPORT_SECONDS
        ):
            tracker.evaluate(self.schedule.assignment, self.schedule.levels, "window", spent=0)
            self.reported, self.reported_at = self.schedule.key, tracker.elapsed
