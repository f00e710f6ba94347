"""A window of the hybrid's schedule: chosen, encoded, solved and scored in O(window).

The hybrid (`qsched.solvers.hybrid`) re-solves thousands of windows of one
schedule, so nothing a window does may cost O(problem):

- the incumbent is an incremental `Schedule` (which keeps each machine's
  tasks, busy time and load), so the critical machine
  is read in O(1), the window's tasks in O(tasks on its machines), its
  partners in O(M x tasks on the critical machine), its fixed work and
  remaining capacity in O(window);
- the window's QUBO is built from arrays (`TaskAllocation.to_qubo`),
  not through a `QuadraticProgram`;
- the sub-solver's samples are ranked on the window's program with array
  operations (`TaskAllocation.meet_rows`, `objectives`);
- a candidate is scored by moving only the window's tasks on the live
  schedule and reading its key, then moving them back.

Sub-solvers are QUBO samplers (`qsched.solvers.sampling.QuboSampler`; by
name, `qsched.solvers.samplers`), each given the window's QUBO with its
one-hot task rows and the incumbent's window assignment as start state, and
``shots`` samples, seeded from the hybrid's generator; a sample whose task
rows are not all one-hot is dropped (`one_hot_assignments`):

- ``qaoa``: the engine's QAOA, XY mixer from the incumbent's window
  assignment; angles from `AngleCache` (CVaR, so that the samples leave the
  incumbent). Every sampler runs on one thread
  here (`one_thread`): a window's state is small enough that starting each
  gate's parallel loop costs more than it saves, and where another process
  shares the cores, a two-thread gate waits for the preempted thread. With
  the hybrid's ``backend=gpu`` QAOA runs on the engine's CUDA kernels
  (`gpu_engine`), where wider windows fit;
- ``sa`` and ``tabu``: QAOA's classical peers (`qsched.solvers.peers`:
  dwave-samplers' simulated annealing and tabu search) on the same window
  QUBO. Their lengths (``sweeps`` per read, ``tabu_updates`` per tabu
  search, one restart) are set so that a window costs about what a QAOA
  window costs, so the ablation compares samplers at equal time as well as
  at equal samples (dwave-samplers' default tabu length is sized for far
  larger problems than a window);
- ``exhaustive``: every assignment of the window's tasks to its machines
  (exact on the window: what a perfect sub-solver would find);
- ``random``: ``shots`` uniformly random assignments, as many samples as
  QAOA draws, so QAOA is measured against chance at equal samples.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import zip_longest

import numba
import numpy as np

from qsched.model.problem import Problem
from qsched.search.incremental.schedule import Schedule
from qsched.solvers.allocation import TaskAllocation
from qsched.solvers.parameters import optimize
from qsched.solvers.qaoa_samplers import Angles, EngineQaoa
from qsched.solvers.sampling import QuboModel, QuboSampler

#: Variable updates per tabu search of a ``tabu`` window (with one restart: about a QAOA
#: window's time at the CPU engine's window size and the hybrid's default shots).
TABU_UPDATES = 15_000
#: Relative change in a window's machines' finish or busy time below which a plateau
#: candidate (`makes_room`) is taken to make no room.
ROOM_TOLERANCE = 1e-9
#: How strongly a window's tasks are drawn towards those that run cheaply on its other
#: machines (`choose_tasks`: weight ratio ** -AFFINITY_POWER).
AFFINITY_POWER = 4.0
#: The share of the probability mass whose mean cost the window angles minimize (CVaR_alpha,
#: `AngleCache`); Barkoutsos et al. 2020 found 0.1 to 0.25 best.
CVAR_ALPHA = 0.2
#: Added to every machine's slack when drawing the window's other machines, so that machines
#: as busy as the critical one can still be drawn.
SLACK_FLOOR = 1e-9


class StopRequested(Exception):
    """The budget ended or stop was set inside a long window step (the angle optimizer)."""


@dataclasses.dataclass(frozen=True)
class Window:
    """``tasks`` on ``machines`` with the rest of the schedule fixed: ``start`` is the
    incumbent's window assignment (positions in ``machines``), ``allocation`` the subproblem's
    program, its fixed work as base load and its remaining capacity."""

    tasks: np.ndarray
    machines: np.ndarray
    start: np.ndarray
    allocation: TaskAllocation

    @property
    def num_qubits(self) -> int:
        return self.allocation.num_qubits


def build_window(
    problem: Problem, schedule: Schedule, tasks: np.ndarray, machines: np.ndarray
) -> Window:
    """The window of ``tasks`` (all on ``machines``) at the incumbent's levels, in O(window)."""
    levels = schedule.levels_of(machines)
    start = np.argmax(schedule.machines_of(tasks)[:, None] == machines[None, :], axis=1)
    runtime = (
        problem.etc[tasks, machines[start]] / problem.frequency[machines[start], levels[start]]
    )
    own_work = np.bincount(start, weights=runtime, minlength=machines.size)
    own_demand = np.zeros((machines.size, len(problem.resources)))
    np.add.at(own_demand, start, problem.demand[tasks])
    fixed_demand = schedule.load[machines] - own_demand
    sub = sub_problem(
        problem, tasks, machines, np.maximum(problem.capacity[machines] - fixed_demand, 0.0)
    )
    allocation = TaskAllocation(
        sub, levels=levels, incumbent=start, base_load=schedule.busy[machines] - own_work
    )
    return Window(tasks, machines, start, allocation)


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


def runtimes(schedule: Schedule, tasks: np.ndarray, machines: np.ndarray) -> np.ndarray:
    """(tasks, machines) each task's runtime on each machine at the machine's current level."""
    problem = schedule.problem
    levels = schedule.levels_of(machines)
    frequency = problem.frequency[machines, levels]
    runtime: np.ndarray = problem.etc[np.ix_(tasks, machines)] / frequency[None, :]
    return runtime


def choose_machines(schedule: Schedule, rng: np.random.Generator, count: int) -> np.ndarray:
    """The critical machine first, then ``count - 1`` others drawn with weights favouring the
    ones with room for its work: a machine's slack (how much earlier than the critical one it
    finishes) times one plus the number of the critical machine's tasks that would fit in it
    (run there in less than the slack), so the partners are machines that can take the
    critical machine's tasks without finishing last themselves. O(M x tasks on the critical
    machine)."""
    busy = schedule.busy
    critical = schedule.critical_machine
    others = np.delete(np.arange(busy.size), critical)
    slack = busy[critical] - busy[others] + SLACK_FLOOR
    own = schedule.tasks_on(critical)
    with np.errstate(invalid="ignore"):
        fitting = (runtimes(schedule, own, others) < slack[None, :]).sum(axis=0)
    weights = slack * (1.0 + fitting)
    drawn = rng.choice(others, min(count, busy.size) - 1, replace=False, p=weights / weights.sum())
    return np.concatenate(([critical], drawn))


def choose_tasks(
    schedule: Schedule, machines: np.ndarray, rng: np.random.Generator, size: int
) -> np.ndarray:
    """Up to ``size`` tasks taken in turn from each of ``machines`` (the critical machine first),
    so every machine, the critical one above all, has tasks in the window; in the order taken.

    Each machine's tasks are drawn without replacement with weights favouring those that run
    cheaply on the window's other machines: weight ``r ** -AFFINITY_POWER``, ``r`` the task's
    least runtime on another window machine over its runtime on its own (Efraimidis-Spirakis
    keys), so the window holds the moves and swaps that can lower its machines' finish rather
    than tasks that only fit where they are, and successive windows on the same machines still
    differ."""
    taken_by_machine = []
    for m in machines.tolist():
        tasks = schedule.tasks_on(int(m))
        others = machines[machines != m]
        with np.errstate(divide="ignore", invalid="ignore"):
            cheapest = runtimes(schedule, tasks, others).min(axis=1)
            ratio = cheapest / runtimes(schedule, tasks, np.array([m]))[:, 0]
        ratio = np.nan_to_num(ratio, nan=np.inf, posinf=np.inf)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            keys = np.log(rng.random(tasks.size)) * ratio**AFFINITY_POWER
        keys = np.nan_to_num(keys, nan=-np.inf)
        taken_by_machine.append(tasks[np.argsort(-keys, kind="stable")])
    taken = [t for turn in zip_longest(*taken_by_machine) for t in turn if t is not None]
    return np.array(taken[:size], dtype=np.int64)


def fitting_window(
    problem: Problem,
    schedule: Schedule,
    rng: np.random.Generator,
    qubits: int,
    machine_count: int,
) -> Window | None:
    """A window around the critical machine whose QUBO, slack bits included, fits ``qubits``:
    the last-taken tasks are dropped until it does. None when the machines drawn have no
    tasks (possible only when no machine is busy: zero ETC entries)."""
    chosen = choose_machines(schedule, rng, machine_count)
    tasks = choose_tasks(schedule, chosen, rng, max(1, qubits // chosen.size))
    if not tasks.size:
        return None
    machines = np.sort(chosen)
    window = build_window(problem, schedule, tasks, machines)
    while window.num_qubits > qubits and tasks.size > 1:
        tasks = tasks[:-1]
        window = build_window(problem, schedule, tasks, machines)
    return window


class AngleCache:
    """QAOA angles shared across windows (a `qaoa_samplers.AngleSource`): optimized on one
    window, reused on the next ``every - 1`` (windows are QUBOs of one size and one scale, and
    good angles transfer between such instances: parameter concentration, Brandao et al.
    2018), so most windows cost one state evolution instead of an optimizer loop.

    The angles minimize CVaR_alpha of the window's cost (`EngineQaoa.cvar`: the mean over
    the best ``alpha`` of the probability mass; Barkoutsos et al. 2020), not <C>. A window's
    XY mixer starts from the incumbent, which is a local optimum of the window's QUBO, so
    <C> is least with the mixer angles at 0 and the state left on the incumbent: every shot
    was the incumbent. CVaR only scores the best tail, so spreading the state costs nothing
    while the incumbent keeps ``alpha`` of the mass, and pays wherever a better assignment
    gathers some: the samples offer other candidates. ``alpha = 1`` is <C> (the old angles).

    The optimizer loop is the one long step of a window (hundreds of state evolutions), so
    it looks at ``should_stop`` before each and raises `StopRequested` when it is true.
    """

    def __init__(
        self,
        depth: int,
        evaluations: int,
        every: int,
        should_stop: Callable[[], bool],
        alpha: float = CVAR_ALPHA,
    ):
        self.depth, self.evaluations, self.every = depth, evaluations, every
        self.should_stop, self.alpha = should_stop, alpha
        self.uses = 0
        self.angles: Angles | None = None

    def __call__(self, engine: EngineQaoa) -> Angles:
        if self.angles is None or self.uses % self.every == 0:
            found = optimize(self._stoppable(engine), self.depth, self.evaluations)
            self.angles = Angles(found.gammas, found.betas)
        self.uses += 1
        return self.angles

    def _stoppable(self, engine: EngineQaoa) -> Callable[[np.ndarray, np.ndarray], float]:
        def expectation(gammas: np.ndarray, betas: np.ndarray) -> float:
            if self.should_stop():
                raise StopRequested
            return engine.cvar(gammas, betas, self.alpha)

        return expectation


@contextmanager
def one_thread() -> Iterator[None]:
    """Numba's parallel kernels on one thread while inside (this thread's setting only)."""
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(threads)


def window_model(window: Window) -> QuboModel:
    """The window's QUBO with its tasks' one-hot rows and the incumbent's window assignment."""
    allocation = window.allocation
    qubo = allocation.to_qubo().arrays
    initial = allocation.start_state(window.start, qubo.num_qubits)
    return QuboModel(qubo, allocation.one_hot_groups(), initial)


def window_assignments(
    window: Window, sampler: QuboSampler, shots: int, rng: np.random.Generator
) -> np.ndarray:
    """Distinct window assignments among ``shots`` samples of ``sampler`` on the window's model
    (`window_model`), seeded from ``rng``, on one thread (module docstring)."""
    with one_thread():
        samples = sampler.sample(window_model(window), shots, rng)
    return one_hot_assignments(window, samples.counts)


def one_hot_assignments(window: Window, counts: dict[int, int]) -> np.ndarray:
    """The sampled basis states (qubit i = bit i) whose task rows are all one-hot, as window
    assignments (one row per distinct state, in state order); the others are dropped."""
    states = np.array(sorted(counts), dtype=np.int64)
    bits = (states[:, None] >> np.arange(window.allocation.cells)) & 1
    rows = bits.reshape(states.size, window.tasks.size, window.machines.size)
    assignments: np.ndarray = rows.argmax(axis=2)
    return assignments[np.all(rows.sum(axis=2) == 1, axis=1)]


def ranked(window: Window, assignments: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` best distinct window assignments other than the incumbent's, by the
    window's program: meeting its rows first, then its objective, then the assignment."""
    distinct = np.unique(assignments, axis=0)
    distinct = distinct[np.any(distinct != window.start, axis=1)]
    allocation = window.allocation
    order = np.lexsort((allocation.objectives(distinct), ~allocation.meet_rows(distinct)))
    return distinct[order[:count]]


def candidate_key(
    schedule: Schedule, window: Window, candidate: np.ndarray
) -> tuple[bool, float, float]:
    """The schedule's key with the window's tasks placed as ``candidate`` says, the schedule
    put back afterwards: only the tasks that move are touched."""
    return candidate_score(schedule, window, candidate)[0]


def candidate_score(
    schedule: Schedule, window: Window, candidate: np.ndarray
) -> tuple[tuple[bool, float, float], tuple[float, float]]:
    """`candidate_key`, and the window's machines' `room` with the tasks so placed."""
    moved = candidate != window.start
    tasks = window.tasks[moved]
    schedule.assign(tasks, window.machines[candidate[moved]])
    key, made = schedule.key, room(schedule, window.machines)
    schedule.assign(tasks, window.machines[window.start[moved]])
    return key, made


def room(schedule: Schedule, machines: np.ndarray) -> tuple[float, float]:
    """How much room ``machines`` leave: their last finish, then their summed busy time (the
    lower, the more)."""
    busy = schedule.busy[machines]
    return float(busy.max()), float(busy.sum())


def makes_room(made: tuple[float, float], before: tuple[float, float]) -> bool:
    """Whether ``made`` is lower than ``before`` (`room`), lexicographically, each by more than
    a relative `ROOM_TOLERANCE` of the last finish (so that rounding in the incremental sums
    is never taken for room)."""
    tolerance = ROOM_TOLERANCE * max(abs(before[0]), 1.0)
    if made[0] < before[0] - tolerance:
        return True
    return abs(made[0] - before[0]) <= tolerance and made[1] < before[1] - tolerance
