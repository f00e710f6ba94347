"""The incremental schedule's bookkeeping: per-machine task lists, sums, and cluster totals.

Each machine keeps its tasks in earliest-deadline order in a slice of the
``slot_*`` arrays, with each task's runtime, busy watts and deadline beside
it, so that a machine is one contiguous scan. Beside the lists: per machine,
its work, watt-seconds, load per resource, highest busy draw and tardiness
(running sums, O(1) to update; tardiness O(k) and only when a task with a
deadline moves, since tasks without one come last in EDF order); per
machine, its share of each cluster total (`FIGURES`), and those totals; and
a tournament tree over busy times for the makespan, O(log M) per change.
`refresh` brings one machine's shares and the totals up to date after its
lists or level changed. Running sums are re-added from the lists every
`qsched.search.incremental.climb.RESUM_EVERY` proposals (`resum`), so rounding
cannot build up.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from qsched.model.evaluate import TOLERANCE
from qsched.model.problem import Problem
from qsched.search.compiled import inline, kernel, readonly

#: Columns of ``State.shares`` and entries of ``State.totals``: each powered machine's
#: dynamic energy (J) and idle draw (W); tardiness (s) and whether there is any (0/1);
#: capacity excess (in mean task demands) and violations; and the highest draw (W).
#: The 0/1 and count columns add up exactly, so feasibility never rests on rounding.
DYNAMIC, IDLE, TARDINESS, LATE, EXCESS, VIOLATIONS, TOP = range(7)
FIGURES = 7


class Constants(NamedTuple):
    """The problem's arrays as the kernels read them."""

    etc: np.ndarray
    busy_watts: np.ndarray
    idle: np.ndarray
    frequency: np.ndarray
    scale: np.ndarray
    level_count: np.ndarray
    demand: np.ndarray
    capacity: np.ndarray
    deadline: np.ndarray
    rank: np.ndarray
    demand_unit: np.ndarray
    mean_etc: float
    power_cap: float
    energy_weight: float
    makespan_weight: float
    idle_on: bool
    capped: bool  # models power and has a finite cap


class State(NamedTuple):
    """Mutable arrays: the schedule, per-machine sums, task lists, shares and totals.

    Machine m's tasks sit in slots ``first[m] : first[m] + tasks_on[m]`` of the
    ``slot_*`` arrays, sorted by EDF rank, with ``room[m]`` slots reserved.
    ``tree`` is a tournament over ``busy``: node 1 holds the machine that
    finishes last (the lower index on ties), leaves start at ``tree.size // 2``.
    """

    assignment: np.ndarray
    levels: np.ndarray
    tasks_on: np.ndarray
    work: np.ndarray
    watt_work: np.ndarray
    load: np.ndarray
    top_watts: np.ndarray
    tardiness: np.ndarray
    first: np.ndarray
    room: np.ndarray
    slot_task: np.ndarray
    slot_rank: np.ndarray
    slot_etc: np.ndarray
    slot_watts: np.ndarray
    slot_deadline: np.ndarray
    busy: np.ndarray
    tree: np.ndarray
    shares: np.ndarray
    totals: np.ndarray


@kernel
def _pack(c: Constants, s: State, order: np.ndarray) -> None:
    """Lay the machines' task lists out afresh, spare slots shared evenly (tasks in ``order``)."""
    tasks, machines = c.etc.shape
    spare = (s.slot_task.size - tasks) // machines
    position = 0
    for m in range(machines):
        s.first[m] = position
        s.room[m] = s.tasks_on[m] + spare
        position += s.room[m]
    filled = np.zeros(machines, dtype=np.int64)
    for t in order:
        m = s.assignment[t]
        slot = s.first[m] + filled[m]
        filled[m] += 1
        s.slot_task[slot] = t
        s.slot_rank[slot] = c.rank[t]
        s.slot_etc[slot] = c.etc[t, m]
        s.slot_watts[slot] = c.busy_watts[t, m]
        s.slot_deadline[slot] = c.deadline[t]


@kernel
def _resum(c: Constants, s: State, m: int) -> None:
    """Re-add machine m's sums from its slots: exact, O(k)."""
    work = 0.0
    watt_work = 0.0
    for slot in range(s.first[m], s.first[m] + s.tasks_on[m]):
        work += s.slot_etc[slot]
        watt_work += s.slot_etc[slot] * s.slot_watts[slot]
    s.work[m] = work
    s.watt_work[m] = watt_work
    for r in range(c.demand.shape[1]):
        s.load[m, r] = 0.0
    for slot in range(s.first[m], s.first[m] + s.tasks_on[m]):
        for r in range(c.demand.shape[1]):
            s.load[m, r] += c.demand[s.slot_task[slot], r]
    _top_watts(s, m)
    _tardiness(c, s, m)


@kernel
def _tardiness(c: Constants, s: State, m: int) -> None:
    """Machine m's tardiness from its slots: its deadline tasks come first in EDF order."""
    frequency = c.frequency[m, s.levels[m]]
    elapsed = 0.0
    total = 0.0
    for slot in range(s.first[m], s.first[m] + s.tasks_on[m]):
        deadline = s.slot_deadline[slot]
        if deadline == np.inf:
            break
        elapsed += s.slot_etc[slot]
        finish = elapsed / frequency
        if finish > deadline * (1 + TOLERANCE):
            total += finish - deadline
    s.tardiness[m] = total


@kernel
def _top_watts(s: State, m: int) -> None:
    top = -np.inf
    for slot in range(s.first[m], s.first[m] + s.tasks_on[m]):
        top = max(top, s.slot_watts[slot])
    s.top_watts[m] = top


@inline
def _slot_of(s: State, m: int, rank: np.ndarray) -> int:
    """Index of the first slot of machine m whose rank is >= ``rank`` (binary search)."""
    low, high = s.first[m], s.first[m] + s.tasks_on[m]
    while low < high:
        middle = (low + high) // 2
        if s.slot_rank[middle] < rank:
            low = middle + 1
        else:
            high = middle
    return int(low)


@kernel
def _take(c: Constants, s: State, t: int) -> None:
    """Take task t off its machine (lists and sums; tardiness and top watts are the caller's)."""
    m = s.assignment[t]
    slot = _slot_of(s, m, c.rank[t])
    end = s.first[m] + s.tasks_on[m] - 1
    for k in range(slot, end):
        s.slot_task[k] = s.slot_task[k + 1]
        s.slot_rank[k] = s.slot_rank[k + 1]
        s.slot_etc[k] = s.slot_etc[k + 1]
        s.slot_watts[k] = s.slot_watts[k + 1]
        s.slot_deadline[k] = s.slot_deadline[k + 1]
    s.tasks_on[m] -= 1
    s.work[m] -= c.etc[t, m]
    s.watt_work[m] -= c.etc[t, m] * c.busy_watts[t, m]
    for r in range(c.demand.shape[1]):
        s.load[m, r] -= c.demand[t, r]
    s.assignment[t] = -1


@kernel
def _put(c: Constants, s: State, t: int, m: int) -> None:
    """Put unassigned task t on machine m, in EDF position."""
    if s.tasks_on[m] == s.room[m]:
        s.assignment[t] = m  # joins the re-laid lists at once, at the end of its machine
        s.tasks_on[m] += 1
        _repack_with(c, s, t)
    else:
        slot = _slot_of(s, m, c.rank[t])
        for k in range(s.first[m] + s.tasks_on[m], slot, -1):
            s.slot_task[k] = s.slot_task[k - 1]
            s.slot_rank[k] = s.slot_rank[k - 1]
            s.slot_etc[k] = s.slot_etc[k - 1]
            s.slot_watts[k] = s.slot_watts[k - 1]
            s.slot_deadline[k] = s.slot_deadline[k - 1]
        s.slot_task[slot] = t
        s.slot_rank[slot] = c.rank[t]
        s.slot_etc[slot] = c.etc[t, m]
        s.slot_watts[slot] = c.busy_watts[t, m]
        s.slot_deadline[slot] = c.deadline[t]
        s.tasks_on[m] += 1
        s.assignment[t] = m
    s.work[m] += c.etc[t, m]
    s.watt_work[m] += c.etc[t, m] * c.busy_watts[t, m]
    s.top_watts[m] = max(s.top_watts[m], c.busy_watts[t, m])
    for r in range(c.demand.shape[1]):
        s.load[m, r] += c.demand[t, r]


@kernel
def _repack_with(c: Constants, s: State, t: int) -> None:
    """Re-lay the lists with task t (already counted on its machine) in EDF position."""
    m = s.assignment[t]
    order = np.empty(s.assignment.size, dtype=np.int64)
    position = 0
    for machine in range(s.tasks_on.size):
        listed = s.tasks_on[machine] - (1 if machine == m else 0)
        placed = machine != m
        for k in range(listed):
            other = s.slot_task[s.first[machine] + k]
            if not placed and c.rank[t] < c.rank[other]:
                order[position] = t
                position += 1
                placed = True
            order[position] = other
            position += 1
        if not placed:
            order[position] = t
            position += 1
    _pack(c, s, order[:position])


@inline
def _later(s: State, i: int, j: int) -> int:
    """Of machines i and j (-1: none), the one finishing later; the lower index on ties."""
    if i < 0:
        return j
    if j < 0 or s.busy[i] > s.busy[j]:
        return i
    if s.busy[j] > s.busy[i]:
        return j
    return min(i, j)


@inline
def last_machine(s: State) -> int:
    return int(s.tree[1])


@kernel
def refresh(c: Constants, s: State, m: int) -> None:
    """Bring machine m's shares, the totals and the makespan tree up to date with its sums."""
    level = s.levels[m]
    frequency = c.frequency[m, level]
    s.busy[m] = s.work[m] / frequency
    on = s.tasks_on[m] > 0 or c.idle_on
    idle = c.idle[m]
    scale = c.scale[m, level]
    excess = 0.0
    violations = 0.0
    for r in range(c.demand.shape[1]):
        if s.load[m, r] > c.capacity[m, r] * (1 + TOLERANCE) + TOLERANCE:
            excess += (s.load[m, r] - c.capacity[m, r]) / c.demand_unit[r]
            violations += 1
    top = idle + scale * (s.top_watts[m] - idle) if s.tasks_on[m] else idle
    _share(s, m, DYNAMIC, _dynamic_energy(c, m, level, s.work[m], s.watt_work[m]) if on else 0.0)
    _share(s, m, IDLE, idle if on else 0.0)
    _share(s, m, TARDINESS, s.tardiness[m])
    _share(s, m, LATE, 1.0 if s.tardiness[m] > 0 else 0.0)
    _share(s, m, EXCESS, excess)
    _share(s, m, VIOLATIONS, violations)
    _share(s, m, TOP, top if on else 0.0)
    retree(s, m)


@inline
def retree(s: State, m: int) -> None:
    """Replay the tournament from machine m's leaf up, after its busy time changed."""
    node = (s.tree.size // 2 + m) // 2
    while node >= 1:
        s.tree[node] = _later(s, s.tree[2 * node], s.tree[2 * node + 1])
        node //= 2


@inline
def _dynamic_energy(c: Constants, m: int, level: int, work: float, watt_work: float) -> float:
    """Machine m's energy above idle (J) for ``work`` seconds of work at ``level``."""
    return float(c.scale[m, level] * (watt_work - c.idle[m] * work) / c.frequency[m, level])


@inline
def _pretend(
    c: Constants, s: State, m: int, level: int, work: float, watt_work: float, count: int
) -> tuple[float, float]:
    """Put machine m's busy time for ``work`` at ``level`` into the tree (the caller puts the
    old one back); its dynamic energy and idle watts if it would be on, else zeros."""
    s.busy[m] = work / c.frequency[m, level]
    retree(s, m)
    if count > 0 or c.idle_on:
        return _dynamic_energy(c, m, level, work, watt_work), float(c.idle[m])
    return 0.0, 0.0


@inline
def objective_if(
    c: Constants,
    s: State,
    a: int,
    work_a: float,
    watt_work_a: float,
    count_a: int,
    b: int,
    work_b: float,
    watt_work_b: float,
    count_b: int,
    level_b: int,
    d: int,
    work_d: float,
    watt_work_d: float,
    count_d: int,
) -> float:
    """The objective if machine a had these sums (at its level), machine b (-1: no other)
    these sums at ``level_b`` and machine d (-1: no third; an ejection chain's) these at
    its level, with nothing changed: O(log M), for rejecting early."""
    dynamic = s.totals[DYNAMIC] - s.shares[a, DYNAMIC]
    idle = s.totals[IDLE] - s.shares[a, IDLE]
    if b >= 0:
        dynamic -= s.shares[b, DYNAMIC]
        idle -= s.shares[b, IDLE]
    if d >= 0:
        dynamic -= s.shares[d, DYNAMIC]
        idle -= s.shares[d, IDLE]
    busy_a, busy_b, busy_d = s.busy[a], s.busy[b] if b >= 0 else 0.0, s.busy[d] if d >= 0 else 0.0
    dynamic_a, idle_a = _pretend(c, s, a, s.levels[a], work_a, watt_work_a, count_a)
    dynamic += dynamic_a
    idle += idle_a
    if b >= 0:
        dynamic_b, idle_b = _pretend(c, s, b, level_b, work_b, watt_work_b, count_b)
        dynamic += dynamic_b
        idle += idle_b
    if d >= 0:
        dynamic_d, idle_d = _pretend(c, s, d, s.levels[d], work_d, watt_work_d, count_d)
        dynamic += dynamic_d
        idle += idle_d
    makespan = s.busy[s.tree[1]]
    s.busy[a] = busy_a
    retree(s, a)
    if b >= 0:
        s.busy[b] = busy_b
        retree(s, b)
    if d >= 0:
        s.busy[d] = busy_d
        retree(s, d)
    return float(c.energy_weight * (dynamic + makespan * idle) + c.makespan_weight * makespan)


@inline
def _share(s: State, m: int, figure: int, value: float) -> None:
    s.totals[figure] += value - s.shares[m, figure]
    s.shares[m, figure] = value


@kernel
def resum(c: Constants, s: State) -> None:
    """Re-add every sum, share and total from the lists: exact again, O(T + M)."""
    s.shares[:] = 0.0
    s.totals[:] = 0.0
    for m in range(s.tasks_on.size):
        _resum(c, s, m)
        refresh(c, s, m)


@kernel
def move(c: Constants, s: State, t: int, m: int) -> int:
    """Move task t to machine m and refresh both machines; returns where it was."""
    was = s.assignment[t]
    _take(c, s, t)
    if c.busy_watts[t, was] >= s.top_watts[was]:
        _top_watts(s, was)
    _put(c, s, t, m)
    if c.deadline[t] != np.inf:
        _tardiness(c, s, was)
        _tardiness(c, s, m)
    refresh(c, s, was)
    refresh(c, s, m)
    return int(was)


@kernel
def set_level(c: Constants, s: State, m: int, level: int) -> None:
    """Run machine m at DVFS level ``level``."""
    s.levels[m] = level
    _tardiness(c, s, m)
    refresh(c, s, m)


def new_state(problem: Problem, assignment: np.ndarray, levels: np.ndarray) -> State:
    """The state of ``assignment`` at ``levels`` (both already checked), sums exact."""
    tasks, machines = problem.num_tasks, problem.num_machines
    size = 3 * tasks + 8 * machines
    half = 1 << max(0, (machines - 1).bit_length())
    tree = np.full(2 * half, -1, dtype=np.int64)
    tree[half : half + machines] = np.arange(machines)
    state = State(
        assignment=np.array(assignment, dtype=np.int64),
        levels=np.array(levels, dtype=np.int64),
        tasks_on=np.bincount(assignment, minlength=machines).astype(np.int64),
        work=np.zeros(machines),
        watt_work=np.zeros(machines),
        load=np.zeros_like(problem.capacity),
        top_watts=np.zeros(machines),
        tardiness=np.zeros(machines),
        first=np.zeros(machines, dtype=np.int64),
        room=np.zeros(machines, dtype=np.int64),
        slot_task=np.zeros(size, dtype=np.int64),
        slot_rank=np.zeros(size, dtype=np.int64),
        slot_etc=np.zeros(size),
        slot_watts=np.zeros(size),
        slot_deadline=np.zeros(size),
        busy=np.zeros(machines),
        tree=tree,
        shares=np.zeros((machines, FIGURES)),
        totals=np.zeros(FIGURES),
    )
    constants = problem_constants(problem)
    _pack(constants, state, np.lexsort((problem.edf_rank, state.assignment)))
    resum(constants, state)
    return state


def problem_constants(problem: Problem) -> Constants:
    """``problem``'s arrays for the kernels, with the evaluator's violation units."""
    return Constants(
        etc=readonly(problem.etc),
        busy_watts=readonly(problem.busy_watts),
        idle=readonly(problem.idle_watts),
        frequency=readonly(problem.frequency),
        scale=readonly(problem.dynamic_scale),
        level_count=readonly(problem.level_count),
        demand=readonly(problem.demand),
        capacity=readonly(problem.capacity),
        deadline=readonly(problem.deadline),
        rank=readonly(problem.edf_rank),
        demand_unit=readonly(problem.demand_unit),
        mean_etc=problem.mean_etc,
        power_cap=float(problem.power_cap),
        energy_weight=float(problem.energy_weight),
        makespan_weight=float(problem.makespan_weight),
        idle_on=bool(problem.idle_machines_on),
        capped=bool(problem.models_power and np.isfinite(problem.power_cap)),
    )
