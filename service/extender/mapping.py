"""Pods to tasks and nodes to machines: what the extender reads off Kubernetes objects.

A pod is a task: its requests (`resources.pod_requests`) are the task's
demand, and annotations say how much work it is and by when it must finish.
A node is a machine: its allocatable resources are the capacity, and labels
or annotations name its power model and DVFS levels, defaulting to the
SPECpower_ssj2008 curves qsched ships (`qsched/data/specpower_curves.json`).

Pod annotations (all optional):

==============================  =========================================  ==============
``qsched.io/work-seconds``      seconds the pod runs on a speed-1 machine  300
``qsched.io/deadline-seconds``  latest finish, seconds after it is planned  none
``qsched.io/cpu-load``          CPU load (0, 1] it puts on its node        1
``qsched.io/priority``          planned first when a batch is cut short    ``spec.priority`` or 0
==============================  =========================================  ==============

Node labels or annotations (annotations win):

==============================  ==========================================================
``qsched.io/server-model``      a shipped SPECpower server, by name or slug
                                (``ibm-x3550-xeon-x5675``); sets the curve and the speed
``qsched.io/power-curve``       11 comma-separated watts at 0, 10, ..., 100 % load
``qsched.io/idle-watts``        with ``qsched.io/peak-watts``: a linear power model
``qsched.io/speed``             relative speed (work per second), overrides the model's
``qsched.io/dvfs-levels``       comma-separated frequency factors, e.g. ``1,0.8,0.6``
==============================  ==========================================================

A node without any of these is the default server model
(`DEFAULT_SERVER_MODEL`) at one frequency level.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from qsched.formats.generate import SERVERS, specpower_curves
from qsched.service.extender.resources import (
    InvalidObject,
    object_at,
    pod_requests,
    resource_list,
)

log = logging.getLogger(__name__)

PREFIX = "qsched.io/"
WORK_SECONDS = PREFIX + "work-seconds"
DEADLINE_SECONDS = PREFIX + "deadline-seconds"
CPU_LOAD = PREFIX + "cpu-load"
PRIORITY = PREFIX + "priority"
SERVER_MODEL = PREFIX + "server-model"
POWER_CURVE = PREFIX + "power-curve"
IDLE_WATTS = PREFIX + "idle-watts"
PEAK_WATTS = PREFIX + "peak-watts"
SPEED = PREFIX + "speed"
DVFS_LEVELS = PREFIX + "dvfs-levels"

DEFAULT_WORK_SECONDS = 300.0
#: A mid-range server of the shipped set: what a node that says nothing about itself is.
DEFAULT_SERVER_MODEL = "IBM x3250 (Xeon X3480)"
#: DVFS levels qsched accepts per machine (the problem schema's bound).
MAX_DVFS_LEVELS = 16


@dataclass(frozen=True)
class PodTask:
    """A pod as a task: identity, requests and the qsched annotations, read once."""

    uid: str
    namespace: str
    name: str
    requests: Mapping[str, float]
    work_seconds: float
    deadline_seconds: float | None
    cpu_load: float
    priority: int
    scheduler_name: str
    #: The node the pod is bound to (``spec.nodeName``), or None while it is pending.
    node_name: str | None
    #: Pods that have finished (Succeeded or Failed) no longer hold their requests.
    finished: bool


@dataclass(frozen=True)
class NodeMachine:
    """A node as a machine: allocatable resources, speed, power model and DVFS levels."""

    name: str
    allocatable: Mapping[str, float]
    speed: float
    #: Watts at 0, 10, ..., 100 % load (a linear model is written out as such a curve).
    watts: tuple[float, ...]
    frequencies: tuple[float, ...]
    #: False for a cordoned node (``spec.unschedulable``) or one not Ready.
    schedulable: bool


def pod_task(pod: Mapping[str, Any], *, strict: bool = True) -> PodTask:
    """Read a v1.Pod; `InvalidObject` names the field that cannot be read.

    With ``strict=False`` a malformed qsched annotation is logged and read as its default
    rather than refused: a pod kube-scheduler placed anyway still holds its requests.
    """
    metadata = object_at(pod.get("metadata"), "metadata")
    spec = object_at(pod.get("spec"), "spec")
    status = object_at(pod.get("status"), "status")
    uid = _required_string(metadata, "uid", "metadata.uid")
    node_name = spec.get("nodeName")
    try:
        work, deadline, load, priority = _qsched_fields(metadata, spec)
    except InvalidObject as error:
        if strict:
            raise
        log.warning("pod %s: %s; using qsched's defaults", uid, error)
        work, deadline, load, priority = DEFAULT_WORK_SECONDS, None, 1.0, 0
    return PodTask(
        uid=uid,
        namespace=str(metadata.get("namespace") or "default"),
        name=str(metadata.get("name") or uid),
        requests=pod_requests(pod),
        work_seconds=work,
        deadline_seconds=deadline,
        cpu_load=load,
        priority=priority,
        scheduler_name=str(spec.get("schedulerName") or "default-scheduler"),
        node_name=str(node_name) if node_name else None,
        finished=status.get("phase") in ("Succeeded", "Failed"),
    )


def _qsched_fields(
    metadata: Mapping[str, Any], spec: Mapping[str, Any]
) -> tuple[float, float | None, float, int]:
    """Work, deadline, CPU load and priority from the pod's annotations."""
    annotations = _strings(metadata.get("annotations"), "metadata.annotations")
    return (
        _number(annotations, WORK_SECONDS, DEFAULT_WORK_SECONDS, positive=True),
        _optional_number(annotations, DEADLINE_SECONDS),
        _cpu_load(annotations),
        int(_number(annotations, PRIORITY, _priority(spec.get("priority")), integer=True)),
    )


def node_machine(node: Mapping[str, Any]) -> NodeMachine:
    """Read a v1.Node; `InvalidObject` names the field that cannot be read."""
    metadata = object_at(node.get("metadata"), "metadata")
    spec = object_at(node.get("spec"), "spec")
    status = object_at(node.get("status"), "status")
    name = _required_string(metadata, "name", "metadata.name")
    hints = _strings(metadata.get("labels"), "metadata.labels") | _strings(
        metadata.get("annotations"), "metadata.annotations"
    )
    model = _server_model(hints)
    watts = _watts(hints, model)
    speed = _number(hints, SPEED, SERVERS[model][0], positive=True)
    return NodeMachine(
        name=name,
        allocatable=resource_list(status.get("allocatable"), "status.allocatable"),
        speed=speed,
        watts=watts,
        frequencies=_frequencies(hints),
        schedulable=not spec.get("unschedulable") and _ready(status),
    )


def slug(server: str) -> str:
    """A server model's label-safe name: ``IBM x3550 (Xeon X5675)`` -> ``ibm-x3550-xeon-x5675``."""
    return re.sub(r"[^a-z0-9]+", "-", server.lower()).strip("-")


@cache
def _models_by_key() -> dict[str, str]:
    models = specpower_curves()
    return {key: name for name in models for key in (name, slug(name))}


def _server_model(hints: Mapping[str, str]) -> str:
    given = hints.get(SERVER_MODEL)
    if given is None:
        return DEFAULT_SERVER_MODEL
    model = _models_by_key().get(given) or _models_by_key().get(slug(given))
    if model is None:
        known = ", ".join(sorted(slug(name) for name in specpower_curves()))
        raise InvalidObject(f"metadata.{SERVER_MODEL}", f"unknown server model; known: {known}")
    return model


def _watts(hints: Mapping[str, str], model: str) -> tuple[float, ...]:
    if POWER_CURVE in hints:
        curve = _number_list(hints, POWER_CURVE)
        if len(curve) != 11 or any(b < a for a, b in zip(curve, curve[1:], strict=False)):
            raise InvalidObject(
                f"metadata.{POWER_CURVE}", "must be 11 non-decreasing watts (0, 10, ..., 100 %)"
            )
        return curve
    if IDLE_WATTS in hints or PEAK_WATTS in hints:
        for needed, partner in ((IDLE_WATTS, PEAK_WATTS), (PEAK_WATTS, IDLE_WATTS)):
            if needed not in hints:
                raise InvalidObject(f"metadata.{needed}", f"is required with {partner}")
        idle = _number(hints, IDLE_WATTS, 0.0)
        peak = _number(hints, PEAK_WATTS, 0.0)
        if peak < idle:
            raise InvalidObject(f"metadata.{PEAK_WATTS}", f"must be >= {IDLE_WATTS}")
        return tuple(idle + (peak - idle) * step / 10 for step in range(11))
    return tuple(specpower_curves()[model])


def _frequencies(hints: Mapping[str, str]) -> tuple[float, ...]:
    if DVFS_LEVELS not in hints:
        return (1.0,)
    levels = _number_list(hints, DVFS_LEVELS)
    if not 1 <= len(levels) <= MAX_DVFS_LEVELS or not all(0 < f <= 4 for f in levels):
        raise InvalidObject(
            f"metadata.{DVFS_LEVELS}",
            f"must be 1 to {MAX_DVFS_LEVELS} frequency factors in (0, 4]",
        )
    return levels


def _ready(status: Mapping[str, Any]) -> bool:
    """Ready unless a Ready condition says otherwise (a node without conditions is taken as is)."""
    conditions = status.get("conditions") or []
    if not isinstance(conditions, list):
        raise InvalidObject("status.conditions", "must be a list")
    return all(
        not isinstance(c, Mapping) or c.get("type") != "Ready" or c.get("status") == "True"
        for c in conditions
    )


def _cpu_load(annotations: Mapping[str, str]) -> float:
    load = _number(annotations, CPU_LOAD, 1.0, positive=True)
    if load > 1:
        raise InvalidObject(f"metadata.{CPU_LOAD}", "must be in (0, 1]")
    return load


def _priority(value: object) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidObject("spec.priority", "must be an integer")
    return float(value)


def _number(
    hints: Mapping[str, str],
    key: str,
    default: float,
    *,
    positive: bool = False,
    integer: bool = False,
) -> float:
    """A numeric annotation or label; malformed values are errors, not silent defaults."""
    text = hints.get(key)
    if text is None:
        return default
    field = f"metadata.{key}"
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        raise InvalidObject(field, f"{text[:40]!r} is not a number") from None
    if integer:
        return float(value)  # priorities may be negative, as Kubernetes' own
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise InvalidObject(field, "must be a finite number " + ("> 0" if positive else ">= 0"))
    return float(value)


def _optional_number(hints: Mapping[str, str], key: str) -> float | None:
    return _number(hints, key, 0.0) if key in hints else None


def _number_list(hints: Mapping[str, str], key: str) -> tuple[float, ...]:
    field = f"metadata.{key}"
    try:
        values = tuple(float(part) for part in hints[key].split(","))
    except ValueError:
        raise InvalidObject(field, "must be comma-separated numbers") from None
    if not all(math.isfinite(v) and v >= 0 for v in values):
        raise InvalidObject(field, "must be finite numbers >= 0")
    return values


def _strings(value: object, field: str) -> dict[str, str]:
    mapping = object_at(value, field)
    if not all(isinstance(v, str) for v in mapping.values()):
        raise InvalidObject(field, "values must be strings")
    return {str(k): v for k, v in mapping.items()}


def _required_string(mapping: Mapping[str, Any], key: str, field: str) -> str:
    value = mapping.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidObject(field, "is required")
    return value
