"""A plan for the pending pods, and what one more pod costs on each node under it.

The planner (`planner`) solves the pending pods as one allocation problem;
the plan it keeps is that solve's answer (pod -> node) plus, per node, the
busy time, frequency and power state the answer implies. Prioritize then
scores a node by the pod's *marginal cost* there: how much the plan's
objective (energy_weight x joules + makespan_weight x seconds, qsched's own
objective) grows if the pod is added to that node. A test pins
`marginal_costs` to the evaluator: it is the difference of two evaluations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from qsched.model.problem import curve_at
from qsched.service.extender.mapping import NodeMachine, PodTask
from qsched.service.extender.wire import MAX_EXTENDER_PRIORITY


@dataclass(frozen=True)
class NodeModel:
    """The nodes' speed and power as arrays, in the order of a `cluster.Nodes` snapshot."""

    speed: np.ndarray
    curves: np.ndarray
    fastest: np.ndarray

    @classmethod
    def of(cls, machines: tuple[NodeMachine, ...]) -> NodeModel:
        return cls(
            speed=np.array([m.speed for m in machines], dtype=float),
            curves=np.array([m.watts for m in machines], dtype=float).reshape(-1, 11),
            fastest=np.array([max(m.frequencies) for m in machines], dtype=float),
        )

    @property
    def idle(self) -> np.ndarray:
        return self.curves[:, 0]


@dataclass(frozen=True)
class Weights:
    """qsched's objective: energy_weight x joules + makespan_weight x seconds."""

    energy: float
    makespan: float


@dataclass(frozen=True)
class Plan:
    """Where the solver put each pending pod, and the load that leaves on each node."""

    node_generation: int
    node_of: Mapping[str, str]
    #: (N,) busy seconds and frequency factor per node under the plan.
    busy: np.ndarray
    frequency: np.ndarray
    weights: Weights


def marginal_costs(
    task: PodTask,
    model: NodeModel,
    rows: np.ndarray,
    busy: np.ndarray,
    frequency: np.ndarray,
    weights: Weights,
) -> np.ndarray:
    """The objective's growth if ``task`` joins each node in ``rows`` (others unchanged).

    qsched's model: a node runs its tasks one after another; a node with no
    task is off; a powered node draws idle watts until the makespan, and a
    task's watts (its load on the node's curve) above idle scale with f^3.
    """
    makespan = float(busy.max(initial=0.0))
    powered = busy > 0
    idle = model.idle
    f = frequency[rows]
    runtime = task.work_seconds / (model.speed[rows] * f)
    busy_watts = curve_at(model.curves[rows], np.array([task.cpu_load]))[0]
    watts = idle[rows] + (busy_watts - idle[rows]) * f**3
    after = busy[rows] + runtime
    longer = np.maximum(after, makespan) - makespan
    own_idle_before = np.where(powered[rows], makespan - busy[rows], 0.0)
    own_idle_after = makespan + longer - after
    others_idle = idle @ powered - idle[rows] * powered[rows]
    energy = watts * runtime + idle[rows] * (own_idle_after - own_idle_before)
    energy += others_idle * longer
    costs: np.ndarray = weights.energy * energy + weights.makespan * longer
    return costs


def scores(costs: np.ndarray, planned: np.ndarray | None) -> np.ndarray:
    """Integer extender scores: 10 for the planned node, 0-9 by marginal cost for the others.

    The cheapest non-planned node scores 9 and the dearest 0, linearly in
    between; ``planned`` (a boolean mask) marks the plan's node.
    """
    if not len(costs):
        return np.zeros(0, dtype=np.int64)
    low, high = float(costs.min()), float(costs.max())
    spread = high - low
    if spread > 0:
        scaled = (MAX_EXTENDER_PRIORITY - 1) * (high - costs) / spread
    else:
        scaled = np.full(len(costs), MAX_EXTENDER_PRIORITY - 1.0)
    result = np.rint(scaled).astype(np.int64)
    if planned is not None:
        result[planned] = MAX_EXTENDER_PRIORITY
    return result
