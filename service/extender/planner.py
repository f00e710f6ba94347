"""The planner: the pending pods solved as one allocation problem, in the background.

kube-scheduler hands the extender one pod at a time, but the watch sees the
whole queue. The planner waits a short window after pods arrive (so a wave
becomes one batch), snapshots the cluster, builds an `AllocationProblem`
(pending pods x schedulable nodes, capacity = what the nodes have left),
solves it with the configured solver under a deadline well inside the
scheduler's ``httpTimeout``, and publishes the `Plan`. HTTP handlers never
wait for it: without a current plan they answer from marginal costs on an
empty plan (the greedy fallback).

A plan is dropped when the node set changes. A pod bound somewhere other
than its planned node, or a pending pod the plan does not cover, asks for a
new plan; until it lands, the old one keeps answering: filter checks every
node against its free capacity at the moment of the call, so a stale plan
can cost quality, never a pod placed where it does not fit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from qsched.model.problem import Limits
from qsched.service.extender.batch import Batch
from qsched.service.extender.cluster import ClusterCache, Nodes, Snapshot
from qsched.service.extender.mapping import PodTask
from qsched.service.extender.plan import NodeModel, Plan, Weights
from qsched.service.extender.solve import BatchRefused, Solve

log = logging.getLogger(__name__)

#: Pause after a failed plan (a solver server down, a worker lost) before the next try.
RETRY_SECONDS = 2.0


@dataclass(frozen=True)
class PlannerSettings:
    """How the planner batches and solves (`qsched extender` flags)."""

    solver: str = "local-search"
    #: The solver's options; None: its defaults, except that local search starts from MCT
    #: (an O(T M) start: its default, Min-min, is O(T^2 M), too slow at cluster scale for a
    #: budget inside kube-scheduler's timeout).
    options: tuple[tuple[str, Any], ...] | None = None
    #: A batch is taken once no new pod has arrived for this many seconds...
    batch_window: float = 0.25
    #: ...or this long after the first one, whichever comes first.
    max_wait: float = 2.0
    #: Wall-clock budget of one solve; well inside kube-scheduler's 5 s httpTimeout (how the
    #: objective trades against it is in the cluster simulation's benchmark report).
    solve_seconds: float = 1.0
    #: Largest batch; beyond it the highest-priority pods are planned first.
    max_batch: int = 10_000
    #: Objective weight on makespan seconds; None: the nodes' summed idle watts, so a
    #: second of makespan costs what the whole cluster burns idling for a second.
    makespan_weight: float | None = None

    @property
    def solver_options(self) -> dict[str, Any]:
        if self.options is not None:
            return dict(self.options)
        return {"start": "mct"} if self.solver == "local-search" else {}


class Planner:
    """Keeps a plan for the pending pods current; thread-safe to read."""

    def __init__(
        self,
        cluster: ClusterCache,
        solve: Solve,
        settings: PlannerSettings,
        on_binding: Callable[[str], None] = lambda outcome: None,
        on_plan: Callable[[float], None] = lambda seconds: None,
    ):
        self.cluster = cluster
        self.settings = settings
        self._solve = solve
        #: Told each binding's outcome once: "planned", "off_plan" or "unplanned".
        self._on_binding = on_binding
        #: Told the wall time of each plan made.
        self._on_plan = on_plan
        #: Pods the problem's validation refused: left out of plans while they wait.
        self._refused: set[str] = set()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._plan: Plan | None = None
        self._bind_cursor = 0
        self._model: tuple[Nodes, NodeModel] | None = None
        self._thread = threading.Thread(target=self._run, name="qsched-planner", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=self.settings.solve_seconds + 5)

    def wake(self) -> None:
        """Something changed (pods arrived, a pod was bound, a node moved): look again."""
        self._wake.set()

    def current(self, nodes: Nodes) -> Plan | None:
        """The plan, if it was made for these nodes (the same node generation)."""
        plan = self._plan
        return plan if plan is not None and plan.node_generation == nodes.generation else None

    def unplanned(self) -> int:
        """Pending pods the current plan does not cover."""
        pending = self.cluster.pending_uids()
        plan = self.current(self.cluster.nodes())
        return len(pending) if plan is None else len(pending - plan.node_of.keys())

    def node_model(self, nodes: Nodes) -> NodeModel:
        """Speed and power arrays of ``nodes`` (cached per node snapshot)."""
        cached = self._model
        if cached is None or cached[0].machines is not nodes.machines:
            cached = (nodes, NodeModel.of(nodes.machines))
            self._model = cached
        return cached[1]

    def weights(self, model: NodeModel) -> Weights:
        makespan = self.settings.makespan_weight
        return Weights(1.0, float(model.idle.sum()) if makespan is None else makespan)

    # -- the background loop ----------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait()
            if not self._gather():
                return
            snapshot = self.cluster.snapshot()
            if self._needs_plan(snapshot):
                try:
                    self._plan_for(snapshot)
                except Exception:  # a failed solve must not kill the planner; answers fall back
                    log.exception("planning %d pods failed; trying again", len(snapshot.pending))
                    self._stopping.wait(RETRY_SECONDS)
                    self._wake.set()

    def _gather(self) -> bool:
        """Wait until no new pod has arrived for ``batch_window`` (at most ``max_wait``), so
        that a wave being created becomes one batch. False when the planner is stopping."""
        deadline = time.monotonic() + self.settings.max_wait
        arrivals = self.cluster.arrivals
        while True:
            if self._stopping.wait(self.settings.batch_window):
                return False
            self._wake.clear()
            arrived, arrivals = self.cluster.arrivals != arrivals, self.cluster.arrivals
            if not arrived or time.monotonic() >= deadline:
                return True

    def _needs_plan(self, snapshot: Snapshot) -> bool:
        """No plan for these nodes, a pending pod it does not cover, or a pod bound off plan."""
        plan = self._plan
        bindings = self._judge_bindings(plan)
        if not snapshot.pending or not len(snapshot.nodes.machines):
            return False
        if plan is None or plan.node_generation != snapshot.nodes.generation:
            return True
        if any(plan.node_of.get(uid, node) != node for uid, node in bindings):
            return True
        uncovered = [p for p in snapshot.pending if p.uid not in plan.node_of]
        if all(p.uid in self._refused for p in uncovered):
            return False  # the common case, decided without reading every pod's demand
        plannable = _batch(snapshot.pending, snapshot.nodes, self._limit(snapshot.nodes))
        return any(p.uid not in plan.node_of and p.uid not in self._refused for p in plannable)

    def _judge_bindings(self, plan: Plan | None) -> list[tuple[str, str]]:
        """The bindings since the last read (pod uid, node), each reported to
        ``on_binding`` with its outcome under ``plan``."""
        bindings, self._bind_cursor = self.cluster.bindings_after(self._bind_cursor)
        for uid, node in bindings:
            planned = plan.node_of.get(uid) if plan is not None else None
            self._on_binding(
                "unplanned" if planned is None else "planned" if planned == node else "off_plan"
            )
        return bindings

    def _plan_for(self, snapshot: Snapshot) -> None:
        started = time.monotonic()
        nodes = snapshot.nodes
        self._refused &= {task.uid for task in snapshot.pending}
        pods = [
            p
            for p in _batch(snapshot.pending, nodes, self._limit(nodes))
            if p.uid not in self._refused
        ]
        if not pods:
            return
        model = self.node_model(nodes)
        weights = self.weights(model)
        try:
            solved = self._solve(Batch.of(pods, nodes, weights), self.settings.solve_seconds)
        except BatchRefused as error:
            if not error.tasks:
                raise
            self._refused |= {pods[t].uid for t in error.tasks}
            log.warning("left %d pods out of plans: %s", len(error.tasks), error.reason)
            self._wake.set()  # plan the others at once
            return
        names = [nodes.machines[m].name for m in solved.assignment]
        # Pods bound while this plan was being made followed the plan in force then: judge
        # them by it; any the new plan puts elsewhere ask for another plan.
        during = self._judge_bindings(self._plan)
        plan = Plan(
            node_generation=nodes.generation,
            node_of={pod.uid: name for pod, name in zip(pods, names, strict=True)},
            busy=solved.busy,
            frequency=np.where(solved.busy > 0, solved.frequency, model.fastest),
            weights=weights,
        )
        self._plan = plan
        if any(plan.node_of.get(uid, node) != node for uid, node in during):
            self._wake.set()
        seconds = time.monotonic() - started
        self._on_plan(seconds)
        log.info(
            "planned %d pods on %d nodes in %.2f s (objective %.6g)",
            len(pods),
            len(nodes.machines),
            seconds,
            solved.objective,
        )

    def _limit(self, nodes: Nodes) -> int:
        """The largest batch: the setting, within the problem size qsched accepts."""
        limits = Limits()
        cells = limits.max_cells // max(1, len(nodes.machines))
        return min(self.settings.max_batch, limits.max_tasks, cells)


def _batch(pending: tuple[PodTask, ...], nodes: Nodes, limit: int) -> list[PodTask]:
    """The pods worth planning: those some node offers every resource of, by priority."""
    placeable = [task for task in pending if nodes.demand(task.requests) is not None]
    placeable.sort(key=lambda task: (-task.priority, task.uid))
    return placeable[:limit]
