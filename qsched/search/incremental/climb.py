"""Hill climbing on the incremental schedule: proposals, their keys, accept-if-not-worse.

A proposal is the shared neighbourhood of `qsched.search.neighbourhood`: with
probability `LEVEL_MOVE_RATE` a machine's DVFS level changes (always, on a
single machine), otherwise a task (half the time one of the machine that
finishes last, since only those shorten the makespan) swaps with a task on
another machine or moves to another machine, half and half. It is applied,
keyed like `qsched.model.evaluate.Evaluation.key` and undone unless not worse.

The key's power part is settled as cheaply as it can be (`qsched.search.incremental.
power`): below the sum of per-machine highest draws nothing can break the
cap; otherwise a candidate that already loses on the rest of the key is
dropped; then the change of the moved machines' profiles bounds the new
peak from both sides; only when the bounds straddle the cap is it swept.
``power`` carries an upper bound on the current peak, the current draw at
one moment (a lower bound; -inf when unknown) and that moment.
"""

from __future__ import annotations

import numpy as np

from qsched.model.evaluate import TOLERANCE
from qsched.search.compiled import inline, kernel
from qsched.search.incremental import power as draw
from qsched.search.incremental.state import (
    DYNAMIC,
    EXCESS,
    IDLE,
    LATE,
    TARDINESS,
    TOP,
    VIOLATIONS,
    Constants,
    State,
    last_machine,
    move,
    objective_if,
    resum,
    set_level,
)

#: Share of proposals that change a machine's DVFS level instead of moving tasks.
LEVEL_MOVE_RATE = 0.1
#: Proposals between two exact re-additions of every sum (`state.resum`).
RESUM_EVERY = 1024
# Slots of a key array: infeasible (0/1), violation, objective, power cap excess (W).
INFEASIBLE, VIOLATION, OBJECTIVE, POWER_EXCESS = range(4)
# Slots of the power array: upper bound on the peak, draw at `MOMENT` (lower bound), the moment.
UPPER, LOWER, MOMENT = range(3)
# Slots of the counters array: proposals made, peak sweeps.
PROPOSALS, SWEEPS = range(2)


@inline
def base_key(c: Constants, s: State, key: np.ndarray) -> None:
    """The key without the power cap's part (its excess taken as 0)."""
    makespan = s.busy[last_machine(s)]
    energy = s.totals[DYNAMIC] + makespan * s.totals[IDLE]
    late = s.totals[LATE] > 0
    over = s.totals[VIOLATIONS] > 0
    key[INFEASIBLE] = late or over
    key[VIOLATION] = (s.totals[EXCESS] if over else 0.0) + (
        s.totals[TARDINESS] / c.mean_etc if late else 0.0
    )
    key[OBJECTIVE] = c.energy_weight * energy + c.makespan_weight * makespan
    key[POWER_EXCESS] = 0.0


@inline
def _with_excess(c: Constants, key: np.ndarray, excess: float) -> None:
    if excess > 0:
        key[INFEASIBLE] = 1.0
        key[VIOLATION] += excess / c.power_cap
        key[POWER_EXCESS] = excess


@inline
def _excess(c: Constants, watts: float) -> float:
    return watts - c.power_cap if watts > c.power_cap * (1 + TOLERANCE) else 0.0


@inline
def worse(key: np.ndarray, than: np.ndarray) -> bool:
    """Whether ``key`` orders after ``than`` (feasible first, then violation, objective)."""
    for slot in (INFEASIBLE, VIOLATION, OBJECTIVE):
        if key[slot] != than[slot]:
            return bool(key[slot] > than[slot])
    return False


@kernel
def exact_key(c: Constants, s: State, key: np.ndarray, power: np.ndarray) -> None:
    """The full key, sweeping the peak if the cap may bind (the sum of per-machine highest
    draws is above it); the peak's bounds go into ``power``."""
    base_key(c, s, key)
    if c.capped and s.totals[TOP] <= c.power_cap * (1 + TOLERANCE):
        power[UPPER], power[LOWER], power[MOMENT] = s.totals[TOP], -np.inf, 0.0
    elif c.capped:
        highest, moment = draw.peak(c, s)
        _with_excess(c, key, _excess(c, highest))
        power[UPPER], power[LOWER], power[MOMENT] = highest, highest, moment


@inline
def next_random(seed: np.ndarray) -> np.uint64:
    """splitmix64: the searches' own generator, so runs never share numba's global one."""
    seed[0] += np.uint64(0x9E3779B97F4A7C15)
    z = seed[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return np.uint64(z ^ (z >> np.uint64(31)))


@inline
def below(seed: np.ndarray, n: int) -> int:
    return int(np.int64(next_random(seed) % np.uint64(n)))


@inline
def uniform(seed: np.ndarray) -> float:
    return np.float64(next_random(seed) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@kernel
def _profiles(
    c: Constants,
    s: State,
    touched: np.ndarray,
    times: np.ndarray,
    watts: np.ndarray,
    steps: np.ndarray,
    first_row: int,
) -> None:
    for k in range(touched.size):
        if touched[k] >= 0:
            row = first_row + k
            steps[row] = draw.profile(c, s, touched[k], times[row], watts[row])


@kernel
def _settle_power(
    c: Constants,
    s: State,
    key: np.ndarray,
    current: np.ndarray,
    power: np.ndarray,
    touched: np.ndarray,
    times: np.ndarray,
    watts: np.ndarray,
    steps: np.ndarray,
    counters: np.ndarray,
    candidate: np.ndarray,
) -> bool:
    """Add the power part to the candidate's ``key`` (the cap may bind: the sum of highest
    draws is above it); False if it surely loses to ``current``. Rows 0-1 of the profiles
    hold the touched machines before the move. Leaves the candidate's power bounds in
    ``candidate``."""
    _profiles(c, s, touched, times, watts, steps, 2)
    rows = 4 if touched[1] >= 0 else 2
    if rows == 2:  # one machine: its new profile next to its old one
        times[1, :] = times[2, :]
        watts[1, :] = watts[2, :]
        steps[1] = steps[2]
    rise, at_moment = draw.change(times, watts, steps, rows, power[MOMENT])
    upper = min(power[UPPER] + rise, s.totals[TOP])
    lower = power[LOWER] + at_moment
    if upper <= c.power_cap * (1 + TOLERANCE):
        candidate[UPPER], candidate[LOWER], candidate[MOMENT] = upper, lower, power[MOMENT]
        return True
    _with_excess(c, key, _excess(c, lower))
    if worse(key, current):
        return False
    base_key(c, s, key)
    counters[SWEEPS] += 1
    highest, moment = draw.peak(c, s)
    _with_excess(c, key, _excess(c, highest))
    candidate[UPPER], candidate[LOWER], candidate[MOMENT] = highest, highest, moment
    return True


# Slots of a proposal: the kind, then a level change's machine, old and new level, or a
# move's task, from and to machines, or a swap's two tasks and their machines, or an
# ejection chain's (`qsched.search.incremental.tabu`): its task moves from FROM to TO,
# whose task OTHER moves on to ONWARD.
KIND, MACHINE, OLD_LEVEL, NEW_LEVEL = 0, 1, 2, 3
TASK, FROM, TO, OTHER, ONWARD = 1, 2, 3, 4, 5
SLOTS = 6
LEVEL, MOVE, SWAP, CHAIN = 0, 1, 2, 3


@inline
def _propose(
    c: Constants, s: State, seed: np.ndarray, tunable: np.ndarray, proposal: np.ndarray
) -> None:
    """Draw one neighbour into ``proposal`` (nothing is changed yet)."""
    tasks, machines = c.etc.shape
    if tunable.size and (machines == 1 or uniform(seed) < LEVEL_MOVE_RATE):
        machine = tunable[below(seed, tunable.size)]
        count = c.level_count[machine]
        level = s.levels[machine]
        proposal[KIND], proposal[MACHINE] = LEVEL, machine
        proposal[OLD_LEVEL], proposal[NEW_LEVEL] = (
            level,
            (level + 1 + below(seed, count - 1)) % count,
        )
        return
    last = last_machine(s)
    if uniform(seed) < 0.5:
        task = s.slot_task[s.first[last] + below(seed, s.tasks_on[last])]
    else:
        task = below(seed, tasks)
    home = s.assignment[task]
    proposal[TASK], proposal[FROM] = task, home
    if uniform(seed) < 0.5 and s.tasks_on[home] < tasks:
        other = below(seed, tasks)
        while s.assignment[other] == home:
            other = below(seed, tasks)
        proposal[KIND], proposal[TO], proposal[OTHER] = SWAP, s.assignment[other], other
    else:
        proposal[KIND], proposal[TO] = MOVE, (home + 1 + below(seed, machines - 1)) % machines


@inline
def objective_of(c: Constants, s: State, proposal: np.ndarray) -> float:
    """The proposal's objective, without applying it."""
    kind = proposal[KIND]
    if kind == LEVEL:
        m = proposal[MACHINE]
        return _level_objective(c, s, m, proposal[NEW_LEVEL])
    task, a, b = proposal[TASK], proposal[FROM], proposal[TO]
    out_a, in_b = c.etc[task, a], c.etc[task, b]
    work_a, work_b = s.work[a] - out_a, s.work[b] + in_b
    watt_a = s.watt_work[a] - out_a * c.busy_watts[task, a]
    watt_b = s.watt_work[b] + in_b * c.busy_watts[task, b]
    count_a, count_b = s.tasks_on[a] - 1, s.tasks_on[b] + 1
    d, work_d, watt_d, count_d = -1, 0.0, 0.0, 0
    if kind != MOVE:  # task OTHER leaves b: for a in a swap, onward in a chain
        other = proposal[OTHER]
        out_b = c.etc[other, b]
        work_b -= out_b
        watt_b -= out_b * c.busy_watts[other, b]
        count_b -= 1
        if kind == SWAP:
            in_a = c.etc[other, a]
            work_a += in_a
            watt_a += in_a * c.busy_watts[other, a]
            count_a += 1
        else:
            d = proposal[ONWARD]
            in_d = c.etc[other, d]
            work_d = s.work[d] + in_d
            watt_d = s.watt_work[d] + in_d * c.busy_watts[other, d]
            count_d = s.tasks_on[d] + 1
    return objective_if(
        c, s, a, work_a, watt_a, count_a, b, work_b, watt_b, count_b, s.levels[b], d, work_d,
        watt_d, count_d,
    )  # fmt: skip


@inline
def _level_objective(c: Constants, s: State, m: int, level: int) -> float:
    saved = s.levels[m]
    s.levels[m] = level
    objective = objective_if(
        c, s, m, s.work[m], s.watt_work[m], s.tasks_on[m], -1, 0.0, 0.0, 0, 0, -1, 0.0, 0.0, 0
    )
    s.levels[m] = saved
    return objective


@kernel
def carry_out(c: Constants, s: State, proposal: np.ndarray, back: bool) -> None:
    """Apply the proposal, or (``back``) undo it."""
    kind = proposal[KIND]
    if kind == LEVEL:
        set_level(c, s, proposal[MACHINE], proposal[OLD_LEVEL] if back else proposal[NEW_LEVEL])
    elif kind == MOVE:
        move(c, s, proposal[TASK], proposal[FROM] if back else proposal[TO])
    elif kind == CHAIN:  # undone in reverse order, like a swap
        if back:
            move(c, s, proposal[TASK], proposal[FROM])
            move(c, s, proposal[OTHER], proposal[TO])
        else:
            move(c, s, proposal[OTHER], proposal[ONWARD])
            move(c, s, proposal[TASK], proposal[TO])
    else:  # a swap: undone in reverse order, so each task returns to its own machine
        first, second = (OTHER, TASK) if back else (TASK, OTHER)
        move(c, s, proposal[first], proposal[TO])
        move(c, s, proposal[second], proposal[FROM])


@kernel
def _touched(proposal: np.ndarray, touched: np.ndarray) -> None:
    if proposal[KIND] == LEVEL:
        touched[0], touched[1] = proposal[MACHINE], -1
    else:
        touched[0], touched[1] = proposal[FROM], proposal[TO]


@kernel
def climb(
    c: Constants,
    s: State,
    seed: np.ndarray,
    tunable: np.ndarray,
    current: np.ndarray,
    power: np.ndarray,
    counters: np.ndarray,
    steps: int,
) -> int:
    """``steps`` accept-if-not-worse proposals from the state keyed ``current``; returns how
    many were accepted. ``seed`` is a (1,) uint64 generator state and advances.

    While the current schedule is feasible, a proposal whose objective is already
    higher is dropped before it is applied (O(log M)); the rest are applied, keyed,
    and reverted unless not worse.
    """
    tasks = c.etc.shape[0]
    proposal = np.zeros(SLOTS, dtype=np.int64)
    key = np.zeros(4)
    candidate = np.zeros(3)
    touched = np.full(2, -1, dtype=np.int64)
    times = np.zeros((4, tasks + 1))  # rows: two machines before the move, then after it
    watts = np.zeros((4, tasks + 1))
    profile_steps = np.zeros(4, dtype=np.int64)
    accepted = 0
    for _ in range(steps):
        counters[PROPOSALS] += 1
        if counters[PROPOSALS] % RESUM_EVERY == 0:
            resum(c, s)
        _propose(c, s, seed, tunable, proposal)
        if not current[INFEASIBLE] and objective_of(c, s, proposal) > current[OBJECTIVE]:
            continue
        carry_out(c, s, proposal, False)
        base_key(c, s, key)
        keep = True
        if c.capped and s.totals[TOP] > c.power_cap * (1 + TOLERANCE):
            keep = not worse(key, current)
            if keep:
                _touched(proposal, touched)
                carry_out(c, s, proposal, True)
                _profiles(c, s, touched, times, watts, profile_steps, 0)
                carry_out(c, s, proposal, False)
                keep = _settle_power(
                    c, s, key, current, power, touched, times, watts, profile_steps, counters,
                    candidate,
                )  # fmt: skip
        elif c.capped:
            candidate[UPPER], candidate[LOWER], candidate[MOMENT] = s.totals[TOP], -np.inf, 0.0
        if keep and not worse(key, current):
            accepted += 1
            current[:] = key
            if c.capped:
                power[:] = candidate
        else:
            carry_out(c, s, proposal, True)
    return accepted
