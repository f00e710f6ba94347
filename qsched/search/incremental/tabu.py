"""Tabu search aimed at the machine that finishes last, restarted from its best with kicks.

Why not the hill climb: its proposals are drawn at random, and when the
makespan weighs in almost all of them are neutral. Only a change on the
critical machine (the one that finishes last) can shorten the schedule, and
only a few of its tasks fit anywhere else. So each iteration here looks at
every move of a critical task to another machine and, when none of those
improves, every swap of a critical task with a task elsewhere; plus every
move of a few random tasks and every DVFS level of the critical machine and
one random tunable one, so energy terms elsewhere keep improving. It takes
the best of them that is not tabu, even when it is worse (that is how it
leaves a local optimum), and forbids the tasks it moved to move again for
``tenure`` (plus up to as much again, drawn) iterations; a tabu change is
taken only when it beats the best schedule found (aspiration).

When no move or swap improves either, the scan goes on to ejection chains
(Glover; Frangioni, Necciari and Scutella's multi-exchange neighbourhood for
R||Cmax): a critical task moves to a machine it would not fit on under the
makespan, and at the same time one of that machine's tasks moves on to a
third machine (not the critical one) to make room. On consistent instances
(a machine faster for one task is faster for all) the machines all finish
near the makespan at a local optimum, and shortening it can take such a
chain through two of them; taken one step at a time, its first step raises
the makespan and competes with every other change that does. A chain is one
candidate, scored, ranked and made tabu (both its tasks) like a swap. With
the makespan alone to lower, only chains whose ejected task makes room and
itself ends before the best candidate's objective are scored, which keeps
the scan's cost near that of the swaps'.

Ties on the objective are the rule, not the exception, when the makespan
dominates (it is a max: most moves leave it as it is); they go to the change
that frees the most busy time on its machines, which is what makes room
for the next step.

After ``patience`` iterations without a new best, the search goes back to the
best schedule and kicks it: ``kick`` random tasks to random machines
(iterated local search). A change that would make a feasible schedule
infeasible is undone and its tasks made tabu; while the schedule is
infeasible, the hill climb's accept-if-not-worse proposals take over.

Every candidate scored counts as one proposal (the evaluation budget's unit);
a call stops once ``limit`` proposals are counted, mid-scan if need be, and
the next call picks up with the next iteration.
"""

from __future__ import annotations

import numpy as np

from qsched.search.compiled import inline, kernel
from qsched.search.incremental.climb import (
    CHAIN,
    FROM,
    INFEASIBLE,
    KIND,
    LEVEL,
    MACHINE,
    MOVE,
    NEW_LEVEL,
    OBJECTIVE,
    OLD_LEVEL,
    ONWARD,
    OTHER,
    PROPOSALS,
    SLOTS,
    SWAP,
    TASK,
    TO,
    VIOLATION,
    below,
    carry_out,
    climb,
    exact_key,
    objective_of,
    worse,
)
from qsched.search.incremental.state import Constants, State, last_machine, move, resum, set_level

# Slots of the counters array after the climb's (proposals, sweeps).
ITERATIONS, STALL, IMPROVED = range(2, 5)
COUNTERS = 5
# Slots of the settings array.
TENURE, PATIENCE, KICK, SAMPLES = range(4)
#: Iterations between two exact re-additions of every sum (`state.resum`).
RESUM_EVERY = 256
#: Hill-climb proposals per iteration while the schedule is infeasible.
REPAIR_STEPS = 256


@inline
def _busy_change(c: Constants, s: State, proposal: np.ndarray) -> float:
    """How much the proposal changes the summed busy time of the machines it touches."""
    if proposal[KIND] == LEVEL:
        m = proposal[MACHINE]
        return float(s.work[m] / c.frequency[m, proposal[NEW_LEVEL]] - s.busy[m])
    task, a, b = proposal[TASK], proposal[FROM], proposal[TO]
    change_a, change_b = -c.etc[task, a], c.etc[task, b]
    onward = 0.0
    if proposal[KIND] == SWAP:
        other = proposal[OTHER]
        change_a += c.etc[other, a]
        change_b -= c.etc[other, b]
    elif proposal[KIND] == CHAIN:
        other, d = proposal[OTHER], proposal[ONWARD]
        change_b -= c.etc[other, b]
        onward = c.etc[other, d] / c.frequency[d, s.levels[d]]
    return float(
        change_a / c.frequency[a, s.levels[a]] + change_b / c.frequency[b, s.levels[b]] + onward
    )


@inline
def _later_end(c: Constants, s: State, proposal: np.ndarray) -> float:
    """When the later of the machines the proposal touches would finish."""
    if proposal[KIND] == LEVEL:
        m = proposal[MACHINE]
        return float(s.work[m] / c.frequency[m, proposal[NEW_LEVEL]])
    task, a, b = proposal[TASK], proposal[FROM], proposal[TO]
    work_a, work_b = s.work[a] - c.etc[task, a], s.work[b] + c.etc[task, b]
    onward = 0.0
    if proposal[KIND] == SWAP:
        other = proposal[OTHER]
        work_a += c.etc[other, a]
        work_b -= c.etc[other, b]
    elif proposal[KIND] == CHAIN:
        other, d = proposal[OTHER], proposal[ONWARD]
        work_b -= c.etc[other, b]
        onward = (s.work[d] + c.etc[other, d]) / c.frequency[d, s.levels[d]]
    return float(
        max(work_a / c.frequency[a, s.levels[a]], work_b / c.frequency[b, s.levels[b]], onward)
    )


@inline
def _consider(
    c: Constants,
    s: State,
    proposal: np.ndarray,
    tabu: bool,
    aspiration: float,
    chosen: np.ndarray,
    choice: np.ndarray,
    counters: np.ndarray,
) -> None:
    """Score one candidate; keep it in ``chosen`` if it is the best allowed so far. With the
    makespan alone to lower, a candidate whose machines would end later than the best
    candidate's objective loses whatever the rest does, and is dropped in O(1)."""
    counters[PROPOSALS] += 1
    if c.energy_weight == 0.0 and c.makespan_weight * _later_end(c, s, proposal) > choice[0]:
        return
    objective = objective_of(c, s, proposal)
    if tabu and not objective < aspiration:
        return
    if objective > choice[0]:
        return
    spread = _busy_change(c, s, proposal)
    if objective < choice[0] or spread < choice[1]:
        choice[0], choice[1] = objective, spread
        chosen[:] = proposal


@kernel
def _moves_of(
    c: Constants,
    s: State,
    task: int,
    tabu: bool,
    aspiration: float,
    limit: int,
    proposal: np.ndarray,
    chosen: np.ndarray,
    choice: np.ndarray,
    counters: np.ndarray,
) -> bool:
    """Every move of ``task`` to another machine; False if the limit cut it short."""
    home = s.assignment[task]
    proposal[KIND], proposal[TASK], proposal[FROM] = MOVE, task, home
    for machine in range(c.etc.shape[1]):
        if machine == home:
            continue
        if counters[PROPOSALS] >= limit:
            return False
        proposal[TO] = machine
        _consider(c, s, proposal, tabu, aspiration, chosen, choice, counters)
    return True


@kernel
def _swaps_of(
    c: Constants,
    s: State,
    task: int,
    tabu_until: np.ndarray,
    iteration: int,
    aspiration: float,
    limit: int,
    proposal: np.ndarray,
    chosen: np.ndarray,
    choice: np.ndarray,
    counters: np.ndarray,
) -> bool:
    """Every swap of ``task`` with a task on another machine; False if cut short. With the
    makespan alone to lower, a swap that does not shorten ``task``'s machine cannot help
    and is not scored."""
    home = s.assignment[task]
    makespan_only = c.energy_weight == 0.0
    proposal[KIND], proposal[TASK], proposal[FROM] = SWAP, task, home
    tabu = tabu_until[task] > iteration
    for other in range(c.etc.shape[0]):
        machine = s.assignment[other]
        if machine == home or (makespan_only and c.etc[other, home] >= c.etc[task, home]):
            continue
        if counters[PROPOSALS] >= limit:
            return False
        proposal[TO], proposal[OTHER] = machine, other
        other_tabu = tabu or tabu_until[other] > iteration
        _consider(c, s, proposal, other_tabu, aspiration, chosen, choice, counters)
    return True


@kernel
def _chains_of(
    c: Constants,
    s: State,
    task: int,
    tabu_until: np.ndarray,
    iteration: int,
    aspiration: float,
    limit: int,
    proposal: np.ndarray,
    chosen: np.ndarray,
    choice: np.ndarray,
    counters: np.ndarray,
) -> bool:
    """Every ejection chain of critical task ``task``: to a machine it would not fit on under
    the makespan (where it fits, its move was scored), whose task ``other`` moves on to a
    third machine, not the critical one; False if cut short. With the makespan alone to
    lower, a chain can only win if ``other`` makes room for ``task`` and itself ends
    before the best candidate's objective, so only those are scored: O(1) checks that
    keep the scan near (tasks on the critical machine) x (all tasks) x M cheap steps."""
    home = s.assignment[task]
    makespan = s.busy[home]
    makespan_only = c.energy_weight == 0.0
    weight = c.makespan_weight
    machines = c.etc.shape[1]
    proposal[KIND], proposal[TASK], proposal[FROM] = CHAIN, task, home
    tabu = tabu_until[task] > iteration
    for machine in range(machines):
        speed = c.frequency[machine, s.levels[machine]]
        crowded = s.work[machine] + c.etc[task, machine]
        if machine == home or crowded / speed <= makespan:
            continue
        proposal[TO] = machine
        first = s.first[machine]
        for k in range(s.tasks_on[machine]):
            other = s.slot_task[first + k]
            if makespan_only and weight * (crowded - c.etc[other, machine]) / speed > choice[0]:
                continue
            proposal[OTHER] = other
            other_tabu = tabu or tabu_until[other] > iteration
            for onward in range(machines):
                if onward in (home, machine):
                    continue
                onward_speed = c.frequency[onward, s.levels[onward]]
                ends = (s.work[onward] + c.etc[other, onward]) / onward_speed
                if makespan_only and weight * ends > choice[0]:
                    continue
                if counters[PROPOSALS] >= limit:
                    return False
                proposal[ONWARD] = onward
                _consider(c, s, proposal, other_tabu, aspiration, chosen, choice, counters)
    return True


@kernel
def _levels_of(
    c: Constants,
    s: State,
    machine: int,
    limit: int,
    proposal: np.ndarray,
    chosen: np.ndarray,
    choice: np.ndarray,
    counters: np.ndarray,
) -> bool:
    """Every other DVFS level of ``machine``; False if cut short."""
    proposal[KIND], proposal[MACHINE], proposal[OLD_LEVEL] = LEVEL, machine, s.levels[machine]
    for level in range(c.level_count[machine]):
        if level == s.levels[machine]:
            continue
        if counters[PROPOSALS] >= limit:
            return False
        proposal[NEW_LEVEL] = level
        _consider(c, s, proposal, False, np.inf, chosen, choice, counters)
    return True


@inline
def _improves(choice: np.ndarray, current: np.ndarray) -> bool:
    """Whether the best candidate so far improves on the current schedule (ties: frees time)."""
    return bool(
        choice[0] < current[OBJECTIVE] or (choice[0] == current[OBJECTIVE] and choice[1] < 0)
    )


@kernel
def _scan(
    c: Constants,
    s: State,
    seed: np.ndarray,
    tunable: np.ndarray,
    current: np.ndarray,
    tabu_until: np.ndarray,
    aspiration: float,
    settings: np.ndarray,
    limit: int,
    chosen: np.ndarray,
    choice: np.ndarray,
    counters: np.ndarray,
) -> bool:
    """The neighbourhood of one iteration into ``chosen``; False if the limit cut it short."""
    iteration = counters[ITERATIONS]
    proposal = np.zeros(SLOTS, dtype=np.int64)
    critical = last_machine(s)
    first, count = s.first[critical], s.tasks_on[critical]
    for k in range(count):
        task = s.slot_task[first + k]
        tabu = tabu_until[task] > iteration
        if not _moves_of(c, s, task, tabu, aspiration, limit, proposal, chosen, choice, counters):
            return False
    for _ in range(settings[SAMPLES]):
        task = below(seed, c.etc.shape[0])
        tabu = tabu_until[task] > iteration
        if not _moves_of(c, s, task, tabu, aspiration, limit, proposal, chosen, choice, counters):
            return False
    if tunable.size:
        for machine in (critical, tunable[below(seed, tunable.size)]):
            if not _levels_of(c, s, machine, limit, proposal, chosen, choice, counters):
                return False
    if _improves(choice, current):
        return True
    for k in range(count):
        task = s.slot_task[first + k]
        if not _swaps_of(
            c, s, task, tabu_until, iteration, aspiration, limit, proposal, chosen, choice,
            counters,
        ):  # fmt: skip
            return False
    if _improves(choice, current):
        return True
    for k in range(count):
        task = s.slot_task[first + k]
        if not _chains_of(
            c, s, task, tabu_until, iteration, aspiration, limit, proposal, chosen, choice,
            counters,
        ):  # fmt: skip
            return False
    return True


@kernel
def _restore(c: Constants, s: State, assignment: np.ndarray, levels: np.ndarray) -> None:
    """Bring the schedule back to ``assignment`` at ``levels``, moving only what differs."""
    for task in range(assignment.size):
        if s.assignment[task] != assignment[task]:
            move(c, s, task, assignment[task])
    for machine in range(levels.size):
        if s.levels[machine] != levels[machine]:
            set_level(c, s, machine, levels[machine])


@kernel
def _kick(
    c: Constants,
    s: State,
    seed: np.ndarray,
    best_assignment: np.ndarray,
    best_levels: np.ndarray,
    settings: np.ndarray,
    current: np.ndarray,
    power: np.ndarray,
) -> None:
    """Back to the best schedule, then ``kick`` random tasks to random other machines."""
    _restore(c, s, best_assignment, best_levels)
    tasks, machines = c.etc.shape
    if machines > 1:
        for _ in range(settings[KICK]):
            task = below(seed, tasks)
            move(c, s, task, (s.assignment[task] + 1 + below(seed, machines - 1)) % machines)
    exact_key(c, s, current, power)


@inline
def _breaks_feasibility(key: np.ndarray, current: np.ndarray) -> bool:
    return bool(
        key[INFEASIBLE] > current[INFEASIBLE]
        or (key[INFEASIBLE] == 1.0 and key[VIOLATION] > current[VIOLATION])
    )


@inline
def _make_tabu(
    seed: np.ndarray, chosen: np.ndarray, tabu_until: np.ndarray, until: int, tenure: int
) -> None:
    if chosen[KIND] != LEVEL:
        tabu_until[chosen[TASK]] = until + below(seed, tenure + 1)
        if chosen[KIND] != MOVE:  # a swap's or a chain's second task
            tabu_until[chosen[OTHER]] = until + below(seed, tenure + 1)


@kernel
def search(
    c: Constants,
    s: State,
    seed: np.ndarray,
    tunable: np.ndarray,
    current: np.ndarray,
    power: np.ndarray,
    best_key: np.ndarray,
    best_busy: np.ndarray,
    best_assignment: np.ndarray,
    best_levels: np.ndarray,
    tabu_until: np.ndarray,
    settings: np.ndarray,
    counters: np.ndarray,
    limit: int,
) -> None:
    """Iterate until ``counters[PROPOSALS]`` reaches ``limit``. ``current`` and ``power`` are
    the state's key and peak bounds (`climb.exact_key`); ``best_*`` the best schedule
    found, its key and summed busy time (the tie-break between equal keys), which
    ``counters[IMPROVED]`` is set to 1 on replacing."""
    chosen = np.zeros(SLOTS, dtype=np.int64)
    choice = np.zeros(2)
    key = np.zeros(4)
    busy = s.busy.sum()
    while counters[PROPOSALS] < limit:
        if counters[STALL] >= settings[PATIENCE]:
            _kick(c, s, seed, best_assignment, best_levels, settings, current, power)
            counters[STALL] = 0
            busy = s.busy.sum()
        iteration = counters[ITERATIONS]
        if iteration % RESUM_EVERY == 0:
            resum(c, s)
            busy = s.busy.sum()
        if current[INFEASIBLE]:
            steps = min(REPAIR_STEPS, limit - counters[PROPOSALS])
            climb(c, s, seed, tunable, current, power, counters, steps)
            busy = s.busy.sum()
        else:
            aspiration = best_key[OBJECTIVE] if not best_key[INFEASIBLE] else -np.inf
            chosen[KIND] = -1
            choice[0], choice[1] = np.inf, np.inf
            if not _scan(
                c, s, seed, tunable, current, tabu_until, aspiration, settings, limit, chosen,
                choice, counters,
            ):  # fmt: skip
                return
            if chosen[KIND] < 0:  # everything tabu: time to kick
                counters[STALL] = settings[PATIENCE]
                continue
            carry_out(c, s, chosen, False)
            exact_key(c, s, key, power)
            tenure_ends = iteration + settings[TENURE]
            if _breaks_feasibility(key, current):
                carry_out(c, s, chosen, True)
                exact_key(c, s, key, power)  # puts the current schedule's power bounds back
            else:
                current[:] = key
                busy += choice[1]
            _make_tabu(seed, chosen, tabu_until, tenure_ends, settings[TENURE])
        counters[ITERATIONS] += 1
        if worse(best_key, current) or (not worse(current, best_key) and busy < best_busy[0]):
            best_key[:] = current
            best_busy[0] = busy
            best_assignment[:] = s.assignment
            best_levels[:] = s.levels
            counters[IMPROVED] = 1
            counters[STALL] = 0
        else:
            counters[STALL] += 1
