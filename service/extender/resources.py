"""Kubernetes resource quantities and the rule that sums a pod's requests.

These are the API server's and the scheduler's own rules, written out so that
the extender counts exactly what kube-scheduler counts: a node that the
extender says fits a pod is one NodeResourcesFit lets through, and the other
way round.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

#: Every pod takes one of a node's ``pods`` slots (allocatable ``pods``).
POD_SLOTS = "pods"

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_DECIMAL |= {"P": 1e15, "E": 1e18}
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:\d+\.?\d*|\.\d+))"
    r"(?:(?P<binary>Ki|Mi|Gi|Ti|Pi|Ei)|(?P<exponent>[eE][+-]?\d+)|(?P<decimal>[numkMGTPE]?))"
)


class InvalidObject(ValueError):
    """A pod or node the extender cannot read; ``field`` is its path in the object."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def parse_quantity(value: object, field: str) -> float:
    """A `resource.Quantity` (``"100m"``, ``"1.5Gi"``, ``"2e3"``, ``4``) as a float in base units.

    CPU comes out in cores and memory in bytes. Negative, infinite and
    malformed quantities are refused with the field's path.
    """
    if isinstance(value, bool):
        raise InvalidObject(field, f"{value!r} is not a quantity")
    if isinstance(value, int | float):
        amount = float(value)
    elif isinstance(value, str) and (match := _QUANTITY.fullmatch(value.strip())):
        number = float(match["number"])
        if match["binary"]:
            amount = number * _BINARY[match["binary"]]
        elif match["exponent"]:
            amount = number * 10.0 ** int(match["exponent"][1:])
        else:
            amount = number * _DECIMAL[match["decimal"] or ""]
    else:
        raise InvalidObject(field, f"{_shown(value)} is not a quantity")
    if not math.isfinite(amount) or amount < 0:
        raise InvalidObject(field, f"{_shown(value)} must be a finite quantity >= 0")
    return amount


def scheduler_units(name: str, amount: float) -> float:
    """``amount`` in the integer units the scheduler compares: millicores for CPU, else units.

    Go's NodeResourcesFit compares ``MilliValue()`` for CPU and ``Value()`` for
    everything else, both rounded up; comparing the same integers (exact in a
    float64) keeps the extender's fit identical to the scheduler's.
    """
    scaled = amount * 1000 if name == "cpu" else amount
    nearest = round(scaled)
    return float(nearest if abs(scaled - nearest) <= 1e-6 * max(1.0, scaled) else math.ceil(scaled))


def resource_list(value: object, field: str) -> dict[str, float]:
    """A `ResourceList` (name -> quantity); null or absent is empty."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidObject(field, "must be an object of resource quantities")
    return {str(name): parse_quantity(q, f"{field}.{name}") for name, q in value.items()}


def container_requests(container: Mapping[str, Any], field: str) -> dict[str, float]:
    """What a container requests; a resource with only a limit requests its limit.

    The API server applies that default when it admits a pod; applying it here
    too reads pods the same before and after admission.
    """
    resources = object_at(container.get("resources"), f"{field}.resources")
    requests = resource_list(resources.get("requests"), f"{field}.resources.requests")
    limits = resource_list(resources.get("limits"), f"{field}.resources.limits")
    return limits | requests


def pod_requests(pod: Mapping[str, Any]) -> dict[str, float]:
    """A pod's effective requests, as kube-scheduler computes them (`resourcehelper.PodRequests`).

    The sum of the app containers and of the sidecars (init containers with
    ``restartPolicy: Always``), or the largest init container running beside
    the sidecars started before it, whichever is larger, per resource; plus
    ``spec.overhead``. Pod-level ``spec.resources.requests`` replace the
    container sum for cpu, memory and hugepages (the resources Kubernetes
    allows at pod level). Every pod also takes one
    ``pods`` slot.
    """
    spec = object_at(pod.get("spec"), "spec")
    total: dict[str, float] = {}
    for index, container in enumerate(_list(spec.get("containers"), "spec.containers")):
        field = f"spec.containers[{index}]"
        _add(total, container_requests(object_at(container, field), field))
    sidecars: dict[str, float] = {}
    largest_init: dict[str, float] = {}
    for index, container in enumerate(_list(spec.get("initContainers"), "spec.initContainers")):
        field = f"spec.initContainers[{index}]"
        init = object_at(container, field)
        requests = container_requests(init, field)
        if init.get("restartPolicy") == "Always":
            _add(total, requests)
            _add(sidecars, requests)
            running = dict(sidecars)
        else:
            running = dict(requests)
            _add(running, sidecars)
        _max(largest_init, running)
    _max(total, largest_init)
    pod_level = object_at(spec.get("resources"), "spec.resources")
    total |= {
        name: amount
        for name, amount in resource_list(
            pod_level.get("requests"), "spec.resources.requests"
        ).items()
        if name in ("cpu", "memory") or name.startswith("hugepages-")
    }
    _add(total, resource_list(spec.get("overhead"), "spec.overhead"))
    total[POD_SLOTS] = 1.0
    return total


def _add(total: dict[str, float], more: Mapping[str, float]) -> None:
    for name, amount in more.items():
        total[name] = total.get(name, 0.0) + amount


def _max(total: dict[str, float], other: Mapping[str, float]) -> None:
    for name, amount in other.items():
        total[name] = max(total.get(name, 0.0), amount)


def object_at(value: object, field: str) -> Mapping[str, Any]:
    """``value`` as a JSON object (null is empty); `InvalidObject` naming ``field`` otherwise."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidObject(field, "must be an object")
    return value


def _list(value: object, field: str) -> Iterable[object]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidObject(field, "must be a list")
    return value


def _shown(value: object, limit: int = 40) -> str:
    """The offending value for an error message, never longer than ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
