"""Seeded synthetic energy-aware instances (`qsched gen`).

Machines are servers whose power curves are published SPECpower_ssj2008
results (``qsched/data/specpower_curves.json``); each gets a relative speed
for its CPU generation, DVFS levels at 100/80/60% frequency and a memory
capacity. Tasks get a log-normal amount of work, a CPU load and a memory
demand. Constraints are made binding but satisfiable, checked on a
calibration schedule (MCT, the O(T M) list schedule, run at 80% frequency):

- memory capacities leave ~30% headroom over the total demand, and are
  raised wherever the calibration schedule would not fit;
- half the tasks get a deadline 1.3-2x their finish time in the calibration
  schedule at full speed, which the calibration schedule at 80% frequency still meets
  (EDF on each machine keeps any order that meets deadlines feasible);
- the power cap is 85% of the calibration schedule's peak draw at full speed, but never
  below what the calibration schedule draws at 80% frequency, so running everything
  flat out breaks the cap and DVFS matters.

The objective weighs energy (J) and makespan (s) so that both terms are of
the same size on the calibration schedule. Everything is drawn as arrays and
the problem is converted once, so 20,000 tasks x 1,000 machines take seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from importlib import resources

import numpy as np

from qsched.model.evaluate import evaluate
from qsched.model.problem import Problem
from qsched.search.list_scheduling import list_schedule
from qsched.v1 import problem_pb2

#: Relative throughput per core generation and memory (GiB) of the SPECpower servers.
SERVERS: dict[str, tuple[float, int]] = {
    "HP ProLiant ML110 G3": (1.0, 8),
    "HP ProLiant ML110 G4": (1.3, 8),
    "HP ProLiant ML110 G5": (1.6, 16),
    "IBM x3250 (Xeon X3470)": (2.6, 32),
    "IBM x3250 (Xeon X3480)": (2.8, 32),
    "IBM x3550 (Xeon X5670)": (4.5, 64),
    "IBM x3550 (Xeon X5675)": (4.8, 64),
}
DVFS_FREQUENCIES = (1.0, 0.8, 0.6)
#: The DVFS level the calibration schedule runs at when setting deadlines and the cap.
CALIBRATION_LEVEL = 1
MEMORY_HEADROOM = 1.3
MEMORY_SIZES = (1.0, 2.0, 4.0, 8.0)
MEMORY_SHARES = (0.3, 0.35, 0.25, 0.1)
DEADLINE_FRACTION = 0.5
DEADLINE_SLACK = (1.3, 2.0)
CAP_FRACTION = 0.85


@dataclass(frozen=True)
class Calibration:
    """The schedule the constraints were calibrated on."""

    assignment: np.ndarray
    levels: np.ndarray


def specpower_curves() -> dict[str, list[float]]:
    """Server name -> watts at 0%, 10%, ..., 100% load."""
    text = resources.files("qsched").joinpath("data/specpower_curves.json").read_text()
    servers: dict[str, list[float]] = json.loads(text)["servers"]
    return servers


def generate(
    num_tasks: int, num_machines: int, seed: int, name: str | None = None
) -> problem_pb2.AllocationProblem:
    """A feasible energy-aware instance; the same arguments give the same message."""
    if num_tasks < 1 or num_machines < 1:
        raise ValueError("an instance needs at least one task and one machine")
    message, _ = _generate(
        num_tasks, num_machines, seed, name or f"gen-{num_tasks}x{num_machines}-s{seed}"
    )
    return message


def _generate(
    num_tasks: int, num_machines: int, seed: int, name: str
) -> tuple[problem_pb2.AllocationProblem, Calibration]:
    rng = np.random.default_rng(seed)
    curves = specpower_curves()
    servers = rng.choice(sorted(curves), size=num_machines)
    speed = np.array([SERVERS[s][0] for s in servers]) * rng.uniform(0.9, 1.1, num_machines)
    installed = np.array([SERVERS[s][1] for s in servers], dtype=float)
    work = np.round(rng.lognormal(mean=np.log(600.0), sigma=0.8, size=num_tasks), 1)
    load = np.round(rng.uniform(0.4, 1.0, size=num_tasks), 2)
    memory = rng.choice(MEMORY_SIZES, size=num_tasks, p=MEMORY_SHARES)
    message = problem_pb2.AllocationProblem(name=name)
    width = len(str(num_machines - 1))
    message.machines.extend(
        problem_pb2.Machine(
            id=f"node-{j:0{max(2, width)}d}",
            speed=round(float(speed[j]), 3),
            spec_power=problem_pb2.SpecPowerCurve(watts=curves[server]),
            dvfs_levels=[problem_pb2.DvfsLevel(frequency=f) for f in DVFS_FREQUENCIES],
        )
        for j, server in enumerate(servers)
    )
    width = len(str(num_tasks - 1))
    message.tasks.extend(
        problem_pb2.Task(id=f"task-{i:0{max(3, width)}d}", work=w, load=f, demand={"memory": d})
        for i, (w, f, d) in enumerate(
            zip(work.tolist(), load.tolist(), memory.tolist(), strict=True)
        )
    )
    # Capacities before calibration: the installed memory, scaled to the demand plus headroom.
    capacity = np.maximum(np.ceil(installed / installed.sum() * memory.sum() * MEMORY_HEADROOM), 8)
    _set_capacities(message, capacity)
    problem = Problem.from_message(message)

    calibration = Calibration(
        list_schedule(problem, "mct"), np.full(num_machines, CALIBRATION_LEVEL)
    )
    used = np.bincount(calibration.assignment, weights=memory, minlength=num_machines)
    capacity = np.maximum(capacity, np.ceil(used))  # the calibration schedule fits
    _set_capacities(message, capacity)
    problem = replace(problem, capacity=capacity[:, None].copy())

    fast = evaluate(problem, calibration.assignment)
    with_deadline = rng.random(num_tasks) < DEADLINE_FRACTION
    slack = rng.uniform(*DEADLINE_SLACK, size=num_tasks)
    deadline = np.where(with_deadline, np.ceil(fast.finish * slack), np.inf)
    for task in np.flatnonzero(with_deadline):
        message.tasks[task].deadline = float(deadline[task])
    problem = replace(problem, deadline=deadline)

    fast = evaluate(problem, calibration.assignment)
    slow = evaluate(problem, calibration.assignment, calibration.levels)
    message.power_cap_watts = float(
        np.ceil(max(CAP_FRACTION * fast.peak_power, slow.peak_power * 1.001))
    )
    message.objective.energy_weight = 1.0
    message.objective.makespan_weight = float(f"{slow.energy / slow.makespan:.3g}")
    return message, calibration


def _set_capacities(message: problem_pb2.AllocationProblem, memory: np.ndarray) -> None:
    for machine, capacity in zip(message.machines, memory.tolist(), strict=True):
        machine.capacity["memory"] = capacity
