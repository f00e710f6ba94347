"""A window of the hybrid's schedule: chosen, encoded, solved and scored in O(window).

The hybrid (`qsched.solvers.hybrid`) re-solves thousands of windows of one
schedule, so nothing a window does may cost O(problem):

- the incumbent is an incremental `Schedule` (which keeps each machine's
  tasks, busy time and load), so the critical machine
  is read in O(1), the window's tasks in O(tasks on its machines), its
  fixed work and remaining capacity in O(window);
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
  assignment; angles from `AngleCache`. Every sampler runs on one thread
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


def choose_machines(schedule: Schedule, rng: np.random.Generator, count: int) -> np.ndarray:
    """The critical machine first, then ``count - 1`` others drawn with weights favouring the
    least busy (the ones that can take its work)."""
    busy = schedule.busy
    critical = schedule.critical_machine
    others = np.delete(np.arange(busy.size), critical)
    slack = busy[critical] - busy[others] + SLACK_FLOOR
    drawn = rng.choice(others, min(count, busy.size) - 1, replace=False, p=slack / slack.sum())
    return np.concatenate(([critical], drawn))


def choose_tasks(
    schedule: Schedule, machines: np.ndarray, rng: np.random.Generator, size: int
) -> np.ndarray:
    """Up to ``size`` tasks taken in turn from each of ``machines`` (the critical machine first,
    each machine's in random order), so every machine, the critical one above all, has tasks
    in the window; in the order taken."""
    shuffled = [rng.permutation(schedule.tasks_on(int(m))) for m in machines]
    taken = [t for turn in zip_longest(*shuffled) for t in turn if t is not None]
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

    The optimizer loop is the one long step of a window (hundreds of state evolutions), so
    it looks at ``should_stop`` before each and raises `StopRequested` when it is true.
    """

    def __init__(self, depth: int, evaluations: int, every: int, should_stop: Callable[[], bool]):
        self.depth, self.evaluations, self.every = depth, evaluations, every
        self.should_stop = should_stop
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
            return engine.expectation(gammas, betas)

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
    moved = candidate != window.start
    tasks = window.tasks[moved]
    schedule.assign(tasks, window.machines[candidate[moved]])
    key = schedule.key
    schedule.assign(tasks, window.machines[window.start[moved]])
    return key
