"""What the extender answers to each verb, from the cluster cache and the current plan.

Kept apart from HTTP (`app`) so that the answers are plain functions of
decoded arguments: filter keeps the nodes with room for the pod (the
scheduler's own fit rule, on the extender's count of what is bound where);
prioritize scores the planned node 10 and the others 0-9 by marginal cost;
preempt keeps the nodes where evicting the victims makes room; bind creates
the Binding and counts the pod on its node at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from qsched.service.extender import wire
from qsched.service.extender.cluster import ClusterCache, Nodes
from qsched.service.extender.mapping import PodTask, pod_task
from qsched.service.extender.plan import marginal_costs, scores
from qsched.service.extender.planner import Planner
from qsched.service.extender.resources import scheduler_units

#: Creates the Binding through the API server; raises with the server's message on failure.
Binder = Callable[[wire.BindingArgs], None]


class Extender:
    """The four verbs; thread-safe. Filter, prioritize and preempt are a few NumPy
    operations on the cache; bind waits on the API server."""

    def __init__(
        self,
        cluster: ClusterCache,
        planner: Planner,
        binder: Binder | None = None,
        on_fallback: Callable[[], None] = lambda: None,
    ):
        self.cluster = cluster
        self.planner = planner
        self.binder = binder
        #: Called for each prioritize answer no plan covers (the greedy fallback).
        self.on_fallback = on_fallback

    def filter(self, args: wire.ExtenderArgs) -> dict[str, Any]:
        task = pod_task(args.pod)
        if args.nodes is not None:
            self.cluster.add_nodes(args.nodes)
        if not self.cluster.is_bound(task.uid):
            self.cluster.saw_pending(task)
        nodes = self.cluster.nodes()
        names = args.names
        failed = _misfits(task, nodes, names)
        if args.node_names is not None:
            passing = [name for name in names if name not in failed]
            return wire.filter_result(None, passing, failed, {})
        kept = [
            node for node, name in zip(args.nodes or (), names, strict=True) if name not in failed
        ]
        return wire.filter_result(kept, None, failed, {})

    def prioritize(self, args: wire.ExtenderArgs) -> list[dict[str, Any]]:
        task = pod_task(args.pod)
        if args.nodes is not None:
            self.cluster.add_nodes(args.nodes)
        names = args.names
        nodes = self.cluster.nodes()
        known = [name for name in names if name in nodes.index]
        rows = np.array([nodes.index[name] for name in known], dtype=np.int64)
        model = self.planner.node_model(nodes)
        plan = self.planner.current(nodes)
        if plan is None:
            busy, frequency = np.zeros(len(nodes.machines)), model.fastest
            weights, planned_node = self.planner.weights(model), None
        else:
            busy, frequency, weights = plan.busy, plan.frequency, plan.weights
            planned_node = plan.node_of.get(task.uid)
            if planned_node is not None:  # the plan's loads include the pod itself: not twice
                row = nodes.index[planned_node]
                busy = busy.copy()
                busy[row] = max(
                    0.0, busy[row] - task.work_seconds / (model.speed[row] * frequency[row])
                )
        planned = np.array([name == planned_node for name in known], dtype=bool)
        if not planned.any():
            self.on_fallback()
        costs = marginal_costs(task, model, rows, busy, frequency, weights)
        by_name = dict(zip(known, scores(costs, planned).tolist(), strict=True))
        return wire.host_priority_list({name: by_name.get(name, 0) for name in names})

    def preempt(self, args: wire.PreemptionArgs) -> dict[str, Any]:
        task = pod_task(args.pod)
        nodes = self.cluster.nodes()
        demand = nodes.demand(task.requests)
        kept = {}
        for node, victims in args.victims.items():
            if node not in nodes.index:
                kept[node] = victims  # not ours to judge
            elif demand is not None:
                room = nodes.free[nodes.index[node]] + self._freed(nodes, victims.pod_uids)
                if not _short(demand, room).any():
                    kept[node] = victims
        return wire.preemption_result(kept)

    def bind(self, args: wire.BindingArgs) -> dict[str, str]:
        """Only routed when there is a binder (``--bind``)."""
        assert self.binder is not None
        try:
            self.binder(args)
        except Exception as error:  # the API server's refusal (conflict, not found, forbidden)
            return wire.binding_result(f"binding {args.pod_namespace}/{args.pod_name}: {error}")
        self.cluster.assume_bound(args.pod_uid, args.node)
        return wire.binding_result()

    def _freed(self, nodes: Nodes, uids: tuple[str, ...]) -> np.ndarray:
        """(R,) what evicting ``uids`` frees, counted from the cache's bound pods."""
        freed = np.zeros(len(nodes.resources))
        for uid in uids:
            for name, amount in self.cluster.bound_requests(uid).items():
                if name in nodes.resources:
                    freed[nodes.resources.index(name)] += scheduler_units(name, amount)
        return freed


def _short(demand: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Where ``demand`` does not fit ``free``: NodeResourcesFit checks only the resources a
    pod requests, so a node already over its allocatable in one resource still takes pods
    that do not ask for it."""
    return (demand > 0) & (demand > free)


def _misfits(task: PodTask, nodes: Nodes, names: list[str]) -> Mapping[str, str]:
    """Node -> why the pod does not fit there, for the named nodes the cache knows.

    A node the cache has not seen yet is let through: kube-scheduler's own
    NodeResourcesFit has already checked it, and refusing it would only
    stall the pod until the watch catches up.
    """
    known = [name for name in names if name in nodes.index]
    if not known:
        return {}
    rows = np.array([nodes.index[name] for name in known], dtype=np.int64)
    demand = nodes.demand(task.requests)
    if demand is None:
        missing = sorted(r for r, a in task.requests.items() if a > 0 and r not in nodes.resources)
        return {name: f"Insufficient {missing[0]}" for name in known}
    short = _short(demand, nodes.free[rows])
    return {
        name: ", ".join(f"Insufficient {nodes.resources[c]}" for c in np.flatnonzero(row))
        for name, row in zip(known, short, strict=True)
        if row.any()
    }
