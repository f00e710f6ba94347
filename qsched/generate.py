"""Seeded synthetic energy-aware instances (`qsched gen`).

Machines are servers whose power curves are published SPECpower_ssj2008
results (``qsched/data/specpower_curves.json``); each gets a relative speed
for its CPU generation, DVFS levels at 100/80/60% frequency and a memory
capacity. Tasks get a log-normal amount of work, a CPU load and a memory
demand. Constraints are made binding but satisfiable, checked on a
calibration schedule (Min-min at 80% frequency):

- memory capacities leave ~30% headroom over the total demand, and are
  raised wherever the calibration schedule would not fit;
- half the tasks get a deadline 1.3-2x their finish time in the calibration
  schedule at full speed, which the calibration schedule at 80% frequency still meets
  (EDF on each machine keeps any order that meets deadlines feasible);
- the power cap is 85% of the calibration schedule's peak draw at full speed, but never
  below what the calibration schedule draws at 80% frequency, so running everything
  flat out breaks the cap and DVFS matters.

The objective weighs energy (J) and makespan (s) so that both terms are of
the same size on the calibration schedule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

import numpy as np

from qsched.construct import HEURISTICS, list_schedule
from qsched.evaluate import evaluate
from qsched.problem import Problem
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
    message = problem_pb2.AllocationProblem(name=name)
    for j, server in enumerate(servers):
        speed, memory = SERVERS[server]
        message.machines.append(
            problem_pb2.Machine(
                id=f"node-{j:02d}",
                speed=round(speed * rng.uniform(0.9, 1.1), 3),
                capacity={"memory": float(memory)},
                spec_power=problem_pb2.SpecPowerCurve(watts=curves[server]),
                dvfs_levels=[problem_pb2.DvfsLevel(frequency=f) for f in DVFS_FREQUENCIES],
            )
        )
    work = np.round(rng.lognormal(mean=np.log(600.0), sigma=0.8, size=num_tasks), 1)
    load = np.round(rng.uniform(0.4, 1.0, size=num_tasks), 2)
    memory_demand = rng.choice([1.0, 2.0, 4.0, 8.0], size=num_tasks, p=[0.3, 0.35, 0.25, 0.1])
    for i in range(num_tasks):
        message.tasks.append(
            problem_pb2.Task(
                id=f"task-{i:03d}",
                work=float(work[i]),
                load=float(load[i]),
                demand={"memory": float(memory_demand[i])},
            )
        )

    _fit_memory(message, float(memory_demand.sum()))
    min_min = list_schedule(Problem.from_message(message), HEURISTICS["min-min"])
    calibration = Calibration(min_min, np.full(num_machines, CALIBRATION_LEVEL))
    _raise_capacity_to(message, calibration)

    fast = evaluate(Problem.from_message(message), calibration.assignment)
    with_deadline = rng.random(num_tasks) < DEADLINE_FRACTION
    slack = rng.uniform(*DEADLINE_SLACK, size=num_tasks)
    for task in np.flatnonzero(with_deadline):
        message.tasks[task].deadline = float(np.ceil(fast.finish[task] * slack[task]))

    problem = Problem.from_message(message)
    fast = evaluate(problem, calibration.assignment)
    slow = evaluate(problem, calibration.assignment, calibration.levels)
    message.power_cap_watts = float(
        np.ceil(max(CAP_FRACTION * fast.peak_power, slow.peak_power * 1.001))
    )
    message.objective.energy_weight = 1.0
    message.objective.makespan_weight = float(f"{slow.energy / slow.makespan:.3g}")
    return message, calibration


def _fit_memory(message: problem_pb2.AllocationProblem, total_demand: float) -> None:
    """Scale memory capacities (keeping their ratios) to the total demand plus headroom."""
    sizes = np.array([m.capacity["memory"] for m in message.machines])
    scaled = np.maximum(np.ceil(sizes / sizes.sum() * total_demand * MEMORY_HEADROOM), 8.0)
    for machine, capacity in zip(message.machines, scaled, strict=True):
        machine.capacity["memory"] = float(capacity)


def _raise_capacity_to(message: problem_pb2.AllocationProblem, calibration: Calibration) -> None:
    """Make sure the calibration schedule assignment fits: raise any capacity it exceeds."""
    demand = np.array([t.demand["memory"] for t in message.tasks])
    used = np.bincount(calibration.assignment, weights=demand, minlength=len(message.machines))
    for machine, load in zip(message.machines, used, strict=True):
        machine.capacity["memory"] = max(machine.capacity["memory"], float(np.ceil(load)))
