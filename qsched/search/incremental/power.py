"""The cluster's draw over time, for the incremental schedule: exact peaks, and what a move
changes.

A powered machine draws its running task's watts from t = 0 until its work
is done, then its idle watts (until the makespan; beyond it the profiles
stay at idle, which is never above the peak); an off machine draws nothing.
The cluster draws the sum. `peak` sweeps all machines, O(T log T), as
`qsched.model.evaluate` does. `change` compares one or two machines' profiles
before and after a move, O(k log k): the largest rise anywhere bounds the
new peak from above (old peak plus rise), and the rise at the old peak's
moment bounds it from below, so most candidates are settled without a sweep.
"""

from __future__ import annotations

import numpy as np

from qsched.search.compiled import kernel
from qsched.search.incremental.state import Constants, State


@kernel
def profile(c: Constants, s: State, m: int, times: np.ndarray, watts: np.ndarray) -> int:
    """Machine m's draw as steps, ``watts[i]`` from ``times[i]`` on; returns the step count."""
    if not (s.tasks_on[m] or c.idle_on):
        times[0], watts[0] = 0.0, 0.0
        return 1
    idle = c.idle[m]
    frequency = c.frequency[m, s.levels[m]]
    scale = c.scale[m, s.levels[m]]
    elapsed = 0.0
    steps = 0
    for slot in range(s.first[m], s.first[m] + s.tasks_on[m]):
        times[steps] = elapsed / frequency
        watts[steps] = idle + scale * (s.slot_watts[slot] - idle)
        steps += 1
        elapsed += s.slot_etc[slot]
    times[steps], watts[steps] = elapsed / frequency, idle
    return steps + 1


@kernel
def peak(c: Constants, s: State) -> tuple[float, float]:
    """(highest summed draw, a moment it is drawn): the sweep over every step of every machine."""
    machines = s.tasks_on.size
    size = 0
    for m in range(machines):
        if s.tasks_on[m] or c.idle_on:
            size += s.tasks_on[m] + 1
    times = np.empty(size)
    deltas = np.empty(size)
    position = 0
    for m in range(machines):
        if not (s.tasks_on[m] or c.idle_on):
            continue
        steps = profile(c, s, m, times[position:], deltas[position:])
        for k in range(steps - 1, 0, -1):
            deltas[position + k] -= deltas[position + k - 1]
        position += steps
    order = np.argsort(times, kind="mergesort")
    highest, at = -np.inf, 0.0
    level = 0.0
    for k in range(size):
        level += deltas[order[k]]
        if (k == size - 1 or times[order[k + 1]] != times[order[k]]) and level > highest:
            highest, at = level, times[order[k]]
    return highest, at


@kernel
def _value(times: np.ndarray, watts: np.ndarray, steps: int, moment: float) -> float:
    """A profile's draw at ``moment``."""
    value = watts[0]
    for k in range(1, steps):
        if times[k] > moment:
            break
        value = watts[k]
    return float(value)


@kernel
def change(
    times: np.ndarray, watts: np.ndarray, steps: np.ndarray, rows: int, moment: float
) -> tuple[float, float]:
    """(largest rise of the summed draw at any moment, the rise at ``moment``) when profiles
    ``rows // 2 .. rows`` of ``times``/``watts`` replace profiles ``0 .. rows // 2``."""
    half = rows // 2
    size = 0
    for row in range(rows):
        size += steps[row]
    moments = np.empty(size)
    position = 0
    for row in range(rows):
        moments[position : position + steps[row]] = times[row, : steps[row]]
        position += steps[row]
    moments.sort()
    pointer = np.zeros(rows, dtype=np.int64)
    rise = -np.inf
    for k in range(size):
        if k + 1 < size and moments[k + 1] == moments[k]:
            continue
        delta = 0.0
        for row in range(rows):
            while pointer[row] + 1 < steps[row] and times[row, pointer[row] + 1] <= moments[k]:
                pointer[row] += 1
            value = watts[row, pointer[row]]
            delta += value if row >= half else -value
        rise = max(rise, delta)
    at_moment = 0.0
    for row in range(rows):
        value = _value(times[row], watts[row], steps[row], moment)
        at_moment += value if row >= half else -value
    return rise, at_moment
