"""The extender's view of the cluster: nodes, the pods bound to them, the pods waiting.

Fed by the API-server watch (`kube.ClusterWatch`, which calls the `ClusterSink`
methods here), by the node lists kube-scheduler sends when it is not
``nodeCacheCapable``, and by the extender's own bind verb. Everything the
HTTP handlers and the planner read is taken under one lock as arrays, so a
filter over 1,000 nodes is a handful of NumPy operations.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np

from qsched.service.extender.mapping import NodeMachine, PodTask, node_machine, pod_task
from qsched.service.extender.resources import InvalidObject, scheduler_units

log = logging.getLogger(__name__)
Read = TypeVar("Read")

#: How long a pod seen only in a filter call (no watch reported it) counts as pending.
SEEN_POD_TTL_SECONDS = 300.0
#: Bindings kept for the planner to compare with its plan (it reads them within seconds).
BIND_LOG_LIMIT = 100_000


@dataclass(frozen=True)
class Nodes:
    """The schedulable nodes as arrays, in one fixed order (a snapshot; never mutated)."""

    #: The cache's node generation these arrays were built at (a plan names the one it used).
    generation: int
    machines: tuple[NodeMachine, ...]
    index: Mapping[str, int]
    resources: tuple[str, ...]
    #: (N, R) allocatable and requested-by-bound-pods, in the scheduler's integer units.
    allocatable: np.ndarray
    requested: np.ndarray

    @property
    def free(self) -> np.ndarray:
        """(N, R) what is left on each node."""
        free: np.ndarray = self.allocatable - self.requested
        return free

    def demand(self, requests: Mapping[str, float]) -> np.ndarray | None:
        """A pod's requests as an (R,) vector; None when it asks for a resource no node has."""
        vector = np.zeros(len(self.resources))
        for name, amount in requests.items():
            column = self.resources.index(name) if name in self.resources else -1
            if column < 0:
                if amount > 0:
                    return None
                continue
            vector[column] = scheduler_units(name, amount)
        return vector


@dataclass(frozen=True)
class Snapshot:
    """What a plan is made from: the nodes and the pending pods, at one generation."""

    nodes: Nodes
    pending: tuple[PodTask, ...]


class ClusterCache:
    """Nodes and pods as the watch and the scheduler report them; thread-safe.

    ``node_generation`` counts node changes (added, removed, changed): a plan
    made for other nodes is void. ``on_change`` is called (outside the lock)
    after pending pods arrive, pods are bound or leave, or nodes change, so
    the planner can look again.
    """

    def __init__(self, scheduler_name: str, on_change: Callable[[], None] = lambda: None):
        self.scheduler_name = scheduler_name
        self._on_change = on_change
        self._lock = threading.Lock()
        self._machines: dict[str, NodeMachine] = {}
        self._bound: dict[str, tuple[str, Mapping[str, float]]] = {}
        self._pending: dict[str, PodTask] = {}
        self._seen_until: dict[str, float] = {}
        #: Pods the watch reported deleted, until when a late filter call may not revive them.
        self._deleted: dict[str, float] = {}
        self._node_versions: dict[str, str | None] = {}
        self._nodes: Nodes | None = None
        self.node_generation = 0
        #: Pending pods recorded so far: the planner waits until this stops moving.
        self.arrivals = 0
        #: Every binding in order, as (pod uid, node); ``_bind_offset`` entries were trimmed.
        self._bind_log: list[tuple[str, str]] = []
        self._bind_offset = 0

    # -- the ClusterSink protocol (the API-server watch) ---------------------------------

    def replace(self, nodes: list[dict[str, Any]], pods: list[dict[str, Any]]) -> None:
        """A full list: everything known before is forgotten (no binding is logged: the
        pods bound by then are the starting point, not news)."""
        machines = {m.name: m for m in _readable(nodes, node_machine, "node")}
        tasks = _readable(pods, _watched_pod, "pod")
        with self._lock:
            self._machines = machines
            self._node_versions = {
                name: _version(n) for n in nodes if (name := _name(n)) is not None
            }
            self._changed_nodes()
            self._bound.clear()
            self._pending.clear()
            self._seen_until.clear()
            for task in tasks:
                self._record_pod(task, news=False)
        self._on_change()

    def node_changed(self, node: dict[str, Any]) -> None:
        self.add_nodes([node])

    def node_deleted(self, name: str) -> None:
        with self._lock:
            if self._machines.pop(name, None) is None:
                return
            self._node_versions.pop(name, None)
            self._changed_nodes()
        self._on_change()

    def pod_changed(self, pod: dict[str, Any]) -> None:
        for task in _readable([pod], _watched_pod, "pod"):
            with self._lock:
                if not self._is_news(task):
                    return
                changed = self._forget_pod(task.uid) | self._record_pod(task, news=True)
            if changed:
                self._on_change()

    def pod_deleted(self, uid: str) -> None:
        with self._lock:
            self._deleted[uid] = time.monotonic() + SEEN_POD_TTL_SECONDS
            moved = self._forget_pod(uid)
        if moved:
            self._on_change()

    # -- what kube-scheduler and the bind verb tell us -----------------------------------

    def add_nodes(self, nodes: Iterable[Mapping[str, Any]]) -> None:
        """Nodes as the watch or a request's NodeList sends them; a node whose
        ``resourceVersion`` the cache already has is not read again."""
        with self._lock:
            known = dict(self._node_versions)
        fresh = [n for n in nodes if _node_is_news(n, known)]
        machines = [(m, _version(n)) for n in fresh for m in _readable([n], node_machine, "node")]
        changed = False
        with self._lock:
            for machine, version in machines:
                self._node_versions[machine.name] = version
                if self._machines.get(machine.name) != machine:
                    self._machines[machine.name] = machine
                    changed = True
            if changed:
                self._changed_nodes()
        if changed:
            self._on_change()

    def saw_pending(self, task: PodTask) -> None:
        """A pod kube-scheduler asked about. Pending until it is bound, or until a TTL runs
        out if no watch ever reports it; a pod the watch reported deleted stays gone."""
        with self._lock:
            if task.uid in self._bound or task.uid in self._deleted:
                return
            new = task.uid not in self._pending
            if new:
                self.arrivals += 1
                self._seen_until[task.uid] = time.monotonic() + SEEN_POD_TTL_SECONDS
            self._pending[task.uid] = task
        if new:
            self._on_change()

    def assume_bound(self, uid: str, node: str) -> None:
        """The bind verb placed a pod: count it on its node before the watch says so."""
        with self._lock:
            task = self._pending.get(uid)
            if task is None or uid in self._bound:
                return
            self._forget_pod(uid)
            self._record_pod(replace(task, node_name=node), news=True)
        self._on_change()

    # -- readers ---------------------------------------------------------------------------

    def nodes(self) -> Nodes:
        """The node arrays (rebuilt only after a node change)."""
        with self._lock:
            return self._node_arrays()

    def is_bound(self, uid: str) -> bool:
        with self._lock:
            return uid in self._bound

    def bound_node(self, uid: str) -> str | None:
        with self._lock:
            entry = self._bound.get(uid)
            return entry[0] if entry else None

    def bound_requests(self, uid: str) -> Mapping[str, float]:
        """What a bound pod holds on its node; empty for a pod not bound."""
        with self._lock:
            entry = self._bound.get(uid)
            return entry[1] if entry else {}

    def snapshot(self) -> Snapshot:
        """Nodes and pending pods as one consistent picture, for the planner."""
        with self._lock:
            self._expire_seen()
            return Snapshot(self._node_arrays(), tuple(self._pending.values()))

    def bindings_after(self, cursor: int) -> tuple[list[tuple[str, str]], int]:
        """This scheduler's bindings since ``cursor`` (those still kept), and the new cursor."""
        with self._lock:
            end = self._bind_offset + len(self._bind_log)
            return self._bind_log[max(0, cursor - self._bind_offset) :], end

    def pending_uids(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._pending)

    def pending_count(self) -> int:
        with self._lock:
            return len(self._pending)

    # -- internals (called with the lock held) -------------------------------------------

    def _is_news(self, task: PodTask) -> bool:
        """Whether a watch update changes anything the cache counts; updates to a pod's
        status that leave it where it was (bound, or pending) only refresh it."""
        held = self._bound.get(task.uid)
        if held is not None and not task.finished:
            return held != (task.node_name, task.requests)
        if task.uid in self._pending and task.node_name is None and not task.finished:
            self._pending[task.uid] = task
            self._seen_until.pop(task.uid, None)  # the watch vouches for it now
            return False
        return True

    def _record_pod(self, task: PodTask, news: bool) -> bool:
        """Count a pod; returns whether it holds resources on a node or waits for this
        scheduler. ``news``: a binding now, worth logging for the planner."""
        if task.finished:
            return False
        if task.node_name is not None:
            self._bind(task, news and task.scheduler_name == self.scheduler_name)
            return True
        if task.scheduler_name == self.scheduler_name:
            self.arrivals += 1
            self._pending[task.uid] = task
            return True
        return False

    def _bind(self, task: PodTask, logged: bool) -> None:
        assert task.node_name is not None
        self._bound[task.uid] = (task.node_name, task.requests)
        self._move_requests(task.node_name, task.requests, +1)
        if logged:
            self._bind_log.append((task.uid, task.node_name))
            if len(self._bind_log) > BIND_LOG_LIMIT:
                half = len(self._bind_log) // 2
                del self._bind_log[:half]
                self._bind_offset += half

    def _forget_pod(self, uid: str) -> bool:
        """Returns whether the pod was pending or held resources."""
        was_pending = self._pending.pop(uid, None) is not None
        self._seen_until.pop(uid, None)
        entry = self._bound.pop(uid, None)
        if entry is None:
            return was_pending
        self._move_requests(*entry, -1)
        return True

    def _move_requests(self, node: str, requests: Mapping[str, float], sign: int) -> None:
        nodes = self._nodes
        if nodes is None or node not in nodes.index:
            return
        if any(name not in nodes.resources and amount > 0 for name, amount in requests.items()):
            self._nodes = None  # a resource no node offers yet: rebuild the columns
            return
        requested = nodes.requested.copy()  # copy on write: snapshots already handed out stay
        row = nodes.index[node]
        for name, amount in requests.items():
            if name in nodes.resources:
                column = nodes.resources.index(name)
                requested[row, column] += sign * scheduler_units(name, amount)
        self._nodes = replace(nodes, requested=requested)

    def _changed_nodes(self) -> None:
        self.node_generation += 1
        self._nodes = None

    def _node_arrays(self) -> Nodes:
        if self._nodes is None:
            self._nodes = _build_nodes(self.node_generation, self._machines, self._bound)
        return self._nodes

    def _expire_seen(self) -> None:
        now = time.monotonic()
        for uid in [uid for uid, until in self._seen_until.items() if until < now]:
            del self._seen_until[uid]
            self._pending.pop(uid, None)
        for uid in [uid for uid, until in self._deleted.items() if until < now]:
            del self._deleted[uid]


def _build_nodes(
    generation: int,
    machines: Mapping[str, NodeMachine],
    bound: Mapping[str, tuple[str, Mapping[str, float]]],
) -> Nodes:
    schedulable = tuple(m for m in machines.values() if m.schedulable)
    names = {name for m in schedulable for name in m.allocatable}
    names |= {name for _, requests in bound.values() for name in requests}
    resources = tuple(sorted(names))
    index = {m.name: row for row, m in enumerate(schedulable)}
    column = {name: c for c, name in enumerate(resources)}
    allocatable = np.zeros((len(schedulable), len(resources)))
    for row, machine in enumerate(schedulable):
        for name, amount in machine.allocatable.items():
            allocatable[row, column[name]] = scheduler_units(name, amount)
    requested = np.zeros_like(allocatable)
    for node, requests in bound.values():
        if node in index:
            for name, amount in requests.items():
                requested[index[node], column[name]] += scheduler_units(name, amount)
    return Nodes(generation, schedulable, index, resources, allocatable, requested)


def _readable(
    objects: Iterable[Mapping[str, Any]], read: Callable[[Mapping[str, Any]], Read], kind: str
) -> list[Read]:
    """The objects that read cleanly; the others are logged and left out."""
    readable: list[Read] = []
    for obj in objects:
        try:
            readable.append(read(obj))
        except InvalidObject as error:
            log.warning("ignoring a %s qsched cannot read: %s", kind, error)
    return readable


def _watched_pod(pod: Mapping[str, Any]) -> PodTask:
    """A pod as the watch reports it: bad qsched annotations fall back to their defaults
    (logged), so the pod's requests are still counted on its node."""
    return pod_task(pod, strict=False)


def _name(node: Mapping[str, Any]) -> str | None:
    """A node's ``metadata.name`` (None where it is not a string: the node is unreadable)."""
    name = (node.get("metadata") or {}).get("name") if isinstance(node, Mapping) else None
    return name if isinstance(name, str) else None


def _node_is_news(node: Mapping[str, Any], known: Mapping[str, str | None]) -> bool:
    """Whether ``node`` is other than the version of it ``known`` (name -> version) holds."""
    name, version = _name(node), _version(node)
    return version is None or name is None or known.get(name) != version


def _version(node: Mapping[str, Any]) -> str | None:
    """A node's ``metadata.resourceVersion`` (None where there is none, as in tests)."""
    metadata = node.get("metadata") if isinstance(node, Mapping) else None
    version = metadata.get("resourceVersion") if isinstance(metadata, Mapping) else None
    return version if isinstance(version, str) and version else None
