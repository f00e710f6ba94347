"""The best split of two machines' tasks between them, exactly, by dynamic programming.

Why: the matheuristic's most frequent sub-problem at large sizes is to share
the tasks of the machine that finishes last with one other machine. HiGHS
spends tens of milliseconds on each such MIP (mostly on its root node); this
solves it exactly in well under one when the makespan alone is to be lowered,
so every pair with the last machine can be tried before a larger neighbourhood
is worth a MIP.

The problem is R2||Cmax, with the busy time as the tie-break: put each task on
the first or the second machine so that the later of the two finishes as early
as possible, and among those splits take the one of least summed busy time.
The machines may start with busy time of tasks that stay (``held``).
A state after the first k tasks is the pair of busy times (first, second); one
that another beats on both cannot lead to a better split, so each step keeps
the Pareto front only. A state is also dropped when even its best completion
would end after ``limit``: both of its busy times, and half of their sum plus
the least time each remaining task needs on either machine, bound the later
finish from below. Tasks go largest first, which prunes soonest. The front
can grow exponentially on adversarial data: past `MAX_STATES` states the
answer is not exact and the caller solves the pair otherwise.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from qsched.search.compiled import kernel

#: Most states a front may hold before the split gives up on being exact.
MAX_STATES = 1 << 13
#: Most tasks a split takes: each state records its choices in two 64-bit words.
MAX_TASKS = 128


class Split(NamedTuple):
    """Whether each task goes on the first machine, whether that split is the exact best one
    within the limit (False: the front outgrew `MAX_STATES`, or no split is within the limit;
    ``on_first`` is then the input's), and how many states it generated (its work)."""

    on_first: npt.NDArray[np.bool_]
    exact: bool
    states: int


def best_split(
    first: npt.NDArray[np.float64],
    second: npt.NDArray[np.float64],
    on_first: npt.NDArray[np.bool_],
    limit: float,
    held: tuple[float, float] = (0.0, 0.0),
) -> Split:
    """The split of the tasks whose runtimes are ``first`` and ``second`` (on either machine)
    with the earliest later finish, then the least busy time, among those finishing by
    ``limit`` on machines busy for ``held`` already; ``on_first`` is the split to fall back
    on."""
    if len(first) > MAX_TASKS:
        return Split(on_first, False, 0)
    # The schedule the limit comes from must survive the summing order's rounding.
    choice, states, exact = _split(first, second, limit * (1 + 1e-9), held[0], held[1])
    return Split(choice if exact else on_first, exact, states)


@kernel
def _split(
    first: np.ndarray, second: np.ndarray, limit: float, held_first: float, held_second: float
) -> tuple[np.ndarray, int, bool]:
    """`best_split`'s dynamic programme: the choice, the states generated, and whether the
    choice is the best (not if the front outgrew `MAX_STATES` or nothing was within
    ``limit``)."""
    n = first.size
    order = np.argsort(-np.maximum(first, second))
    rest = np.zeros(n + 1)  # least time the tasks from step k on need, on either machine
    for k in range(n - 1, -1, -1):
        task = order[k]
        rest[k] = rest[k + 1] + min(first[task], second[task])
    load = np.zeros((2, MAX_STATES))
    load[0, 0], load[1, 0] = held_first, held_second
    bits = np.zeros((2, MAX_STATES), dtype=np.uint64)
    load_next = np.zeros((2, 2 * MAX_STATES))
    bits_next = np.zeros((2, 2 * MAX_STATES), dtype=np.uint64)
    count, generated = 1, 0
    for k in range(n):
        task = order[k]
        word, bit = task // 64, np.uint64(1) << np.uint64(task % 64)
        made = 0
        for s in range(count):
            for machine in range(2):
                a, b = load[0, s], load[1, s]
                if machine == 0:
                    a += first[task]
                else:
                    b += second[task]
                if max(a, b, 0.5 * (a + b + rest[k + 1])) > limit:
                    continue
                load_next[0, made], load_next[1, made] = a, b
                bits_next[0, made], bits_next[1, made] = bits[0, s], bits[1, s]
                if machine == 0:
                    bits_next[word, made] |= bit
                made += 1
        generated += made
        if made == 0:
            return np.zeros(n, dtype=np.bool_), generated, False
        by_first = np.argsort(load_next[0, :made], kind="mergesort")
        count, least_second = 0, np.inf
        for index in by_first:
            if load_next[1, index] < least_second:
                if count == MAX_STATES:
                    return np.zeros(n, dtype=np.bool_), generated, False
                least_second = load_next[1, index]
                load[0, count], load[1, count] = load_next[0, index], load_next[1, index]
                bits[0, count], bits[1, count] = bits_next[0, index], bits_next[1, index]
                count += 1
    best, best_key = 0, (np.inf, np.inf)
    for s in range(count):
        key = (max(load[0, s], load[1, s]), load[0, s] + load[1, s])
        if key < best_key:
            best, best_key = s, key
    choice = np.zeros(n, dtype=np.bool_)
    for task in range(n):
        choice[task] = (bits[task // 64, best] >> np.uint64(task % 64)) & np.uint64(1) == 1
    return choice, generated, True
