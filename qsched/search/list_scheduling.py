"""Compiled list scheduling: Min-min, Max-min, Sufferage and minimum completion time (MCT).

Min-min, Max-min and Sufferage (Braun et al. 2001) each assign one task per
step; the textbook version recomputes every unassigned task's best
completion time on every machine at every step, O(T^2 M). Assigning a task
to machine m only makes m later (its ready time grows) and fuller (its load
grows), and every other machine stays as it was. So each task keeps, between
steps, its `KEPT` earliest-finishing candidate machines, a lower bound on
all the others, and its best and second-best time and machine (`Kept`). A
task is looked at again only when m was its best (for Sufferage, also its
second best): its kept machines are re-timed in O(KEPT R), and a kept
machine that no longer beats the bound joins the others; only when too few
stay is the task ranked afresh over all machines, O(M R). A step is one
O(T) pass that picks the task, so a run is O(T^2) plus the re-rankings,
against O(T^2 M R) before. MCT (Braun et al.'s "minimum completion time")
takes the tasks once, in earliest-deadline order, each onto its
earliest-completion machine: O(T M R), the anytime first schedule.

Rules shared by all four: a machine is a candidate for a task while the
task's demand still fits its remaining capacity (`qsched.model.evaluate`'s
tolerance); a task that fits nowhere goes to its earliest-completion machine
anyway, and the evaluator reports the violation. Ties go to the lower task,
then the lower machine, index. The state lives in NumPy arrays so that
`ListScheduler.advance` can stop after any number of steps (a budget ends)
and `ListScheduler.complete` can finish the rest by MCT.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from qsched.model.evaluate import TOLERANCE
from qsched.model.problem import Problem
from qsched.search.compiled import inline, kernel, readonly

#: Selection rules, as passed to the kernel.
MIN_MIN, MAX_MIN, SUFFERAGE = 0, 1, 2
RULES = {"min-min": MIN_MIN, "max-min": MAX_MIN, "sufferage": SUFFERAGE}
#: Earliest completions each task keeps between steps.
KEPT = 8


def fastest_runtimes(problem: Problem) -> np.ndarray:
    """(T, M) seconds of each task on each machine at the machine's fastest DVFS level."""
    machines = np.arange(problem.num_machines)
    runtime: np.ndarray = problem.etc / problem.frequency[machines, problem.fastest_levels]
    return runtime


@inline
def _fits(
    demand: np.ndarray, load: np.ndarray, capacity: np.ndarray, task: int, machine: int
) -> bool:
    for r in range(demand.shape[1]):
        limit = capacity[machine, r] * (1.0 + TOLERANCE) + TOLERANCE
        if load[machine, r] + demand[task, r] > limit:
            return False
    return True


@kernel
def _rank(
    runtime: np.ndarray,
    demand: np.ndarray,
    capacity: np.ndarray,
    ready: np.ndarray,
    load: np.ndarray,
    task: int,
    top: Kept,
) -> None:
    """Rank ``task``'s candidate machines (those it fits on; all when it fits none): keep the
    `KEPT` earliest-finishing, a lower bound on the rest, and the best two."""
    machines = runtime.shape[1]
    times = np.empty(KEPT)
    for only_fitting in (True, False):
        size, beyond = 0, np.inf
        for machine in range(machines):
            completion = ready[machine] + runtime[task, machine]
            if size == KEPT and completion >= times[KEPT - 1]:
                beyond = min(beyond, completion)  # fitting or not: still a lower bound
                continue
            if only_fitting and not _fits(demand, load, capacity, task, machine):
                continue
            if size == KEPT:
                beyond = min(beyond, times[KEPT - 1])
                size -= 1
            position = size
            while position > 0 and times[position - 1] > completion:
                times[position] = times[position - 1]
                top.kept[task, position] = top.kept[task, position - 1]
                position -= 1
            times[position], top.kept[task, position] = completion, machine
            size += 1
        if size:
            break
    if size < KEPT:
        beyond = np.inf  # every candidate is kept
    top.size[task], top.beyond[task], top.anywhere[task] = size, beyond, not only_fitting
    _pick(top, task, times, size, machines)


@kernel
def _pick(top: Kept, task: int, times: np.ndarray, size: int, machines: int) -> None:
    """Best and second-best among the kept machines (``times`` in kept order), by time then
    machine index; nan where what is kept does not tell."""
    first, second = -1, -1
    for k in range(size):
        if first < 0 or _sooner(times[k], top.kept[task, k], times[first], top.kept[task, first]):
            first, second = k, first
        elif second < 0 or _sooner(
            times[k], top.kept[task, k], times[second], top.kept[task, second]
        ):
            second = k
    if first < 0:
        top.best[task], top.best_machine[task] = np.nan, -1
        return
    top.best[task], top.best_machine[task] = times[first], top.kept[task, first]
    if machines == 1:
        top.second[task], top.second_machine[task] = times[first], top.kept[task, first]
    elif second >= 0:
        top.second[task], top.second_machine[task] = times[second], top.kept[task, second]
    elif top.beyond[task] == np.inf:  # no other candidate
        top.second[task], top.second_machine[task] = np.inf, -1
    else:
        top.second[task], top.second_machine[task] = np.nan, -1


@inline
def _sooner(time: float, machine: int, other_time: float, other_machine: int) -> bool:
    return time < other_time or (time == other_time and machine < other_machine)


@kernel
def _follow(
    runtime: np.ndarray,
    demand: np.ndarray,
    capacity: np.ndarray,
    ready: np.ndarray,
    load: np.ndarray,
    task: int,
    top: Kept,
    times: np.ndarray,
) -> None:
    """Best and second-best again from the kept machines, in O(`KEPT`), after some got later
    and fuller. A kept machine stays while the task fits it and its time now is below
    the bound on the machines not kept (whose times only grew), so it is surely ahead
    of them; otherwise it joins them, and the bound still holds."""
    size = 0
    for k in range(top.size[task]):
        machine = top.kept[task, k]
        completion = ready[machine] + runtime[task, machine]
        if not (
            (top.anywhere[task] or _fits(demand, load, capacity, task, machine))
            and completion < top.beyond[task]
        ):
            continue
        top.kept[task, size] = machine
        times[size] = completion
        size += 1
    top.size[task] = size
    _pick(top, task, times, size, runtime.shape[1])


@kernel
def _advance(
    rule: int,
    runtime: np.ndarray,
    demand: np.ndarray,
    capacity: np.ndarray,
    assignment: np.ndarray,
    ready: np.ndarray,
    load: np.ndarray,
    top: Kept,
    changed: np.ndarray,
    steps: int,
) -> int:
    """Assign up to ``steps`` tasks; ``changed[0]`` is the machine the last step filled (-1
    before the first). Unassigned tasks have ``assignment == -1``. Returns how many remain.

    A task is looked at again only when the changed machine was its best (or, for
    Sufferage, its second-best): every other completion time it has stayed the same.
    """
    tasks = runtime.shape[0]
    times = np.empty(KEPT)
    remaining = 0
    for task in range(tasks):
        remaining += assignment[task] < 0
    for _ in range(steps):
        if remaining == 0:
            break
        last = changed[0]
        chosen, chosen_value = -1, 0.0
        for task in range(tasks):
            if assignment[task] >= 0:
                continue
            if last < 0:
                _rank(runtime, demand, capacity, ready, load, task, top)
            elif top.best_machine[task] == last or (
                rule == SUFFERAGE and top.second_machine[task] == last
            ):
                _follow(runtime, demand, capacity, ready, load, task, top, times)
                if np.isnan(top.best[task]) or (rule == SUFFERAGE and np.isnan(top.second[task])):
                    _rank(runtime, demand, capacity, ready, load, task, top)
            best = top.best[task]
            if rule == SUFFERAGE:
                second = top.second[task]
                value = second - best if np.isfinite(second) else np.inf
            elif rule == MAX_MIN:
                value = best
            else:
                value = -best
            if chosen < 0 or value > chosen_value:
                chosen, chosen_value = task, value
        machine = top.best_machine[chosen]
        assignment[chosen] = machine
        ready[machine] = top.best[chosen]
        for r in range(demand.shape[1]):
            load[machine, r] += demand[chosen, r]
        changed[0] = machine
        remaining -= 1
    return remaining


@kernel
def _earliest_completion(
    runtime: np.ndarray,
    demand: np.ndarray,
    capacity: np.ndarray,
    order: np.ndarray,
    assignment: np.ndarray,
    ready: np.ndarray,
    load: np.ndarray,
    top: Kept,
) -> None:
    """MCT: each task of ``order`` in turn onto its earliest-completion machine."""
    for task in order:
        _rank(runtime, demand, capacity, ready, load, task, top)
        machine = top.best_machine[task]
        assignment[task] = machine
        ready[machine] += runtime[task, machine]
        for r in range(demand.shape[1]):
            load[machine, r] += demand[task, r]


class Kept(NamedTuple):
    """Per task: the `KEPT` machines it finishes earliest on among its candidates (as last
    ranked), how many are still candidates, a lower bound on every other candidate's
    completion time, whether it fits nowhere (every machine is then a candidate), and
    its best and second-best completion times and machines (nan: must be ranked again)."""

    kept: np.ndarray
    size: np.ndarray
    beyond: np.ndarray
    anywhere: np.ndarray
    best: np.ndarray
    best_machine: np.ndarray
    second: np.ndarray
    second_machine: np.ndarray

    @classmethod
    def empty(cls, tasks: int) -> Kept:
        return cls(
            kept=np.full((tasks, KEPT), -1, dtype=np.int64),
            size=np.zeros(tasks, dtype=np.int64),
            beyond=np.full(tasks, np.inf),
            anywhere=np.zeros(tasks, dtype=np.bool_),
            best=np.full(tasks, np.nan),
            best_machine=np.full(tasks, -1, dtype=np.int64),
            second=np.full(tasks, np.nan),
            second_machine=np.full(tasks, -1, dtype=np.int64),
        )


class ListScheduler:
    """One run of a list-scheduling heuristic on ``problem``, advanced a few steps at a time.

    Machines run at their fastest DVFS level. ``rule`` is a key of `RULES`,
    or ``"mct"``, which is one pass: its first `advance` places every task.
    """

    def __init__(self, problem: Problem, rule: str):
        if rule != "mct" and rule not in RULES:
            raise ValueError(f"unknown list-scheduling rule {rule!r}")
        self.problem = problem
        self._rule = RULES.get(rule, -1)
        self._runtime = fastest_runtimes(problem)
        tasks, machines = problem.num_tasks, problem.num_machines
        self.assignment = np.full(tasks, -1, dtype=np.int64)
        self._ready = np.zeros(machines)
        self._load = np.zeros_like(problem.capacity)
        self._kept = Kept.empty(tasks)
        self._changed = np.array([-1], dtype=np.int64)
        self.remaining = tasks

    @property
    def done(self) -> bool:
        return self.remaining == 0

    def advance(self, steps: int) -> bool:
        """Assign up to ``steps`` more tasks by the rule; True once every task is assigned."""
        if self._rule < 0:  # MCT is a single pass
            self.complete()
            return True
        self.remaining = _advance(
            self._rule,
            self._runtime,
            readonly(self.problem.demand),
            readonly(self.problem.capacity),
            self.assignment,
            self._ready,
            self._load,
            self._kept,
            self._changed,
            steps,
        )
        return self.done

    def complete(self) -> np.ndarray:
        """Assign every task still unassigned by MCT, in earliest-deadline order; the result."""
        if not self.done:
            unassigned = np.flatnonzero(self.assignment < 0)
            order = unassigned[np.argsort(self.problem.edf_rank[unassigned], kind="stable")]
            _earliest_completion(
                self._runtime,
                readonly(self.problem.demand),
                readonly(self.problem.capacity),
                order,
                self.assignment,
                self._ready,
                self._load,
                self._kept,
            )
            self.remaining = 0
        return self.assignment


def list_schedule(problem: Problem, heuristic: str) -> np.ndarray:
    """The named heuristic's complete assignment (``"mct"`` or a key of `RULES`), unbudgeted."""
    scheduler = ListScheduler(problem, heuristic)
    scheduler.advance(problem.num_tasks)
    return scheduler.complete()
