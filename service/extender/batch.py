"""A batch of pending pods and the nodes they may go to, as plain arrays.

The planner takes it in a few milliseconds under the extender's GIL; the
solver's process turns it into qsched's wire problem (`allocation_problem`)
and solves it there. Everything in it pickles cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qsched.service.extender.cluster import Nodes
from qsched.service.extender.mapping import PodTask
from qsched.service.extender.plan import Weights
from qsched.v1 import problem_pb2


@dataclass(frozen=True)
class Batch:
    """Pods (T) x nodes (M) over resources (R); capacities are what the nodes have left."""

    task_ids: tuple[str, ...]
    work: np.ndarray
    load: np.ndarray
    #: (T,) seconds; nan where a pod has no deadline.
    deadline: np.ndarray
    #: (T, R) and (M, R), in the scheduler's integer units (millicores, bytes, counts).
    demand: np.ndarray
    machine_ids: tuple[str, ...]
    speed: np.ndarray
    capacity: np.ndarray
    #: (M, 11) watts at 0, 10, ..., 100 % load.
    watts: np.ndarray
    frequencies: tuple[tuple[float, ...], ...]
    resources: tuple[str, ...]
    weights: Weights

    @classmethod
    def of(cls, pods: list[PodTask], nodes: Nodes, weights: Weights) -> Batch:
        """The pods (each must have a demand vector on ``nodes``) and every node."""
        demand = np.array([nodes.demand(pod.requests) for pod in pods]).reshape(
            len(pods), len(nodes.resources)
        )
        return cls(
            task_ids=tuple(pod.uid for pod in pods),
            work=np.array([pod.work_seconds for pod in pods]),
            load=np.array([pod.cpu_load for pod in pods]),
            deadline=np.array(
                [np.nan if pod.deadline_seconds is None else pod.deadline_seconds for pod in pods]
            ),
            demand=demand,
            machine_ids=tuple(machine.name for machine in nodes.machines),
            speed=np.array([machine.speed for machine in nodes.machines]),
            capacity=np.maximum(nodes.free, 0.0),
            watts=np.array([machine.watts for machine in nodes.machines]).reshape(-1, 11),
            frequencies=tuple(machine.frequencies for machine in nodes.machines),
            resources=nodes.resources,
            weights=weights,
        )


def allocation_problem(batch: Batch) -> problem_pb2.AllocationProblem:
    """The batch as qsched's wire problem: pods are tasks, nodes machines with their free room."""
    message = problem_pb2.AllocationProblem(name="kube-pending-pods")
    message.objective.energy_weight = batch.weights.energy
    message.objective.makespan_weight = batch.weights.makespan
    for m, name in enumerate(batch.machine_ids):
        message.machines.append(
            problem_pb2.Machine(
                id=name,
                speed=float(batch.speed[m]),
                capacity=dict(zip(batch.resources, batch.capacity[m].tolist(), strict=True)),
                spec_power=problem_pb2.SpecPowerCurve(watts=batch.watts[m].tolist()),
                dvfs_levels=[problem_pb2.DvfsLevel(frequency=f) for f in batch.frequencies[m]],
            )
        )
    for t, uid in enumerate(batch.task_ids):
        demand = batch.demand[t].tolist()
        task = problem_pb2.Task(
            id=uid,
            work=float(batch.work[t]),
            load=float(batch.load[t]),
            demand={r: a for r, a in zip(batch.resources, demand, strict=True) if a > 0},
        )
        if not np.isnan(batch.deadline[t]):
            task.deadline = float(batch.deadline[t])
        message.tasks.append(task)
    return message
