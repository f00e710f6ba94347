"""The one evaluator: an assignment plus DVFS levels in, every metric out.

Every solver, baseline, test and benchmark calls `evaluate`; no solver
reports its own numbers. The rules are the ones documented in
``proto/qsched/v1/problem.proto``: tasks run back to back from t = 0 in
earliest-deadline order on their machine, runtime is ETC / f, a machine with
tasks is on until the makespan, idle machines are off unless the problem
keeps them on, and the cluster's summed power may not exceed the cap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from qsched.model.problem import Problem

#: Slack for float rounding: a finish time or peak power counts as over its limit
#: when above limit * (1 + TOLERANCE); a load when above capacity * (1 + TOLERANCE) + TOLERANCE.
TOLERANCE = 1e-9


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Metrics of one schedule, plus the per-task and per-machine detail behind them.

    ``violation`` is a unitless measure of how far from feasible the schedule
    is; ``key`` orders schedules: feasible before infeasible, less violation
    first, then lower objective.
    """

    assignment: np.ndarray  # (T,) machine index per task
    levels: np.ndarray  # (M,) DVFS level per machine
    start: np.ndarray  # (T,) seconds
    finish: np.ndarray  # (T,) seconds
    late: np.ndarray  # (T,) bool: finishes after its deadline
    busy: np.ndarray  # (M,) seconds of work per machine
    machine_energy: np.ndarray  # (M,) joules
    powered_on: np.ndarray  # (M,) bool
    energy: float
    makespan: float
    utilization: float
    deadline_misses: int
    total_tardiness: float
    capacity_violations: int
    peak_power: float
    power_cap_excess: float
    objective: float
    violation: float

    @property
    def feasible(self) -> bool:
        return (
            self.deadline_misses == 0
            and self.capacity_violations == 0
            and self.power_cap_excess == 0.0
        )

    @property
    def key(self) -> tuple[bool, float, float]:
        return (not self.feasible, self.violation, self.objective)


def check_assignment(
    problem: Problem, assignment: npt.ArrayLike, levels: npt.ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return (assignment, levels) as int arrays, or raise ValueError if out of range."""
    tasks = np.asarray(assignment, dtype=np.int64)
    if tasks.shape != (problem.num_tasks,):
        raise ValueError(
            f"assignment must have {problem.num_tasks} entries, has shape {tasks.shape}"
        )
    if tasks.size and (tasks.min() < 0 or tasks.max() >= problem.num_machines):
        raise ValueError(
            f"assignment entries must be machine indices in [0, {problem.num_machines})"
        )
    if levels is None:
        chosen = problem.fastest_levels
    else:
        chosen = np.asarray(levels, dtype=np.int64)
        if chosen.shape != (problem.num_machines,):
            raise ValueError(
                f"levels must have {problem.num_machines} entries, has shape {chosen.shape}"
            )
        if np.any(chosen < 0) or np.any(chosen >= problem.level_count):
            raise ValueError("levels must be within each machine's DVFS levels")
    return tasks, chosen


def evaluate(
    problem: Problem, assignment: npt.ArrayLike, levels: npt.ArrayLike | None = None
) -> Evaluation:
    """Evaluate ``assignment`` ((T,) machine indices) at ``levels`` ((M,), default: fastest)."""
    tasks, levels = check_assignment(problem, assignment, levels)
    machines = np.arange(problem.num_machines)
    frequency = problem.frequency[machines, levels]
    runtime = problem.etc[np.arange(problem.num_tasks), tasks] / frequency[tasks]

    # Back-to-back execution in EDF order: a cumulative sum within each machine.
    order = np.lexsort((problem.edf_rank, tasks))
    counts = np.bincount(tasks, minlength=problem.num_machines)
    ends = np.cumsum(counts)
    running = np.concatenate(([0.0], np.cumsum(runtime[order])))  # running[k]: first k sorted tasks
    before = running[ends - counts]  # work of the machines sorted before each machine
    finish = np.empty(problem.num_tasks)
    finish[order] = running[1:] - np.repeat(before, counts)
    start = finish - runtime
    busy = running[ends] - before
    makespan = float(finish.max())

    used = counts > 0
    powered_on = used | problem.idle_machines_on
    idle = problem.idle_watts
    task_watts = problem.task_watts(np.arange(problem.num_tasks), tasks, levels[tasks])
    busy_energy = np.bincount(tasks, weights=runtime * task_watts, minlength=problem.num_machines)
    machine_energy = np.where(powered_on, busy_energy + idle * (makespan - busy), 0.0)
    peak_power = (
        _peak_power(
            problem, tasks, order, counts, start[order], busy, task_watts[order], powered_on
        )
        if problem.models_power
        else 0.0
    )

    late = finish > problem.deadline * (1 + TOLERANCE)
    tardiness = float(np.sum(np.where(late, finish - problem.deadline, 0.0)))
    capacity_excess = _capacity_excess(problem, tasks)
    over_cap = peak_power > problem.power_cap * (1 + TOLERANCE)
    power_excess = peak_power - problem.power_cap if over_cap else 0.0

    energy = float(machine_energy.sum())
    objective = problem.energy_weight * energy + problem.makespan_weight * makespan
    violation = _violation(problem, capacity_excess, tardiness, power_excess)
    return Evaluation(
        assignment=tasks,
        levels=levels,
        start=start,
        finish=finish,
        late=late,
        busy=busy,
        machine_energy=machine_energy,
        powered_on=powered_on,
        energy=energy,
        makespan=makespan,
        utilization=float(busy.sum() / (problem.num_machines * makespan)),
        deadline_misses=int(late.sum()),
        total_tardiness=tardiness,
        capacity_violations=int(np.count_nonzero(capacity_excess)),
        peak_power=peak_power,
        power_cap_excess=power_excess,
        objective=float(objective),
        violation=violation,
    )


def machine_loads(problem: Problem, tasks: np.ndarray) -> np.ndarray:
    """(M, R) summed demand of the tasks on each machine."""
    load = np.zeros((problem.num_machines, len(problem.resources)))
    np.add.at(load, tasks, problem.demand)
    return load


def over_capacity(load: np.ndarray, capacity: np.ndarray) -> npt.NDArray[np.bool_]:
    """Where a load breaks its capacity: the one rule, with its float tolerance, for everyone."""
    return np.asarray(load > capacity * (1 + TOLERANCE) + TOLERANCE)


def _capacity_excess(problem: Problem, tasks: np.ndarray) -> np.ndarray:
    """(M, R) summed demand above capacity, 0 where within it."""
    load = machine_loads(problem, tasks)
    return np.where(over_capacity(load, problem.capacity), load - problem.capacity, 0.0)


def _peak_power(
    problem: Problem,
    tasks: np.ndarray,
    order: np.ndarray,
    counts: np.ndarray,
    sorted_start: np.ndarray,
    busy: np.ndarray,
    sorted_watts: np.ndarray,
    powered_on: np.ndarray,
) -> float:
    """Highest summed power over [0, makespan): a sweep over the moments power changes.

    Each powered machine starts at t = 0 (its first task, or idle); power
    changes when a task starts (to that task's watts) and when a machine's
    last task ends (back to idle until the makespan).
    """
    sorted_machine = tasks[order]
    first = np.ones(problem.num_tasks, dtype=bool)
    first[1:] = sorted_machine[1:] != sorted_machine[:-1]
    previous = np.where(first, 0.0, np.roll(sorted_watts, 1))
    used = counts > 0
    last_watts = sorted_watts[np.cumsum(counts)[used] - 1]
    idle_only = powered_on & ~used
    times = np.concatenate([sorted_start, busy[used], np.zeros(idle_only.sum())])
    deltas = np.concatenate(
        [
            sorted_watts - previous,
            problem.idle_watts[used] - last_watts,
            problem.idle_watts[idle_only],
        ]
    )
    by_time = np.argsort(times, kind="stable")
    level = np.cumsum(deltas[by_time])
    times = times[by_time]
    settled = np.ones(times.size, dtype=bool)
    settled[:-1] = times[1:] != times[:-1]
    return float(level[settled].max())


def _violation(
    problem: Problem, capacity_excess: np.ndarray, tardiness: float, power_excess: float
) -> float:
    """Unitless infeasibility: capacity excess in mean task demands, lateness in
    mean task runtimes, power excess as a fraction of the cap."""
    total = 0.0
    if capacity_excess.size and capacity_excess.any():
        total += float((capacity_excess / problem.demand_unit).sum())
    if tardiness > 0:
        total += tardiness / problem.mean_etc
    if power_excess > 0:
        total += power_excess / problem.power_cap
    return total
