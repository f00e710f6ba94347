"""k8s.io/kube-scheduler ``extender/v1`` on the wire, read and written by Go's rules.

The Go structs carry no JSON tags, so keys are the field names, capitalized,
and nothing is ``omitempty``: a nil field is written as ``null``. Go's decoder
matches keys case-insensitively (an exact match first) and ignores keys it
does not know; the readers here do the same, so anything kube-scheduler (or
a hand-written client) sends is read as the scheduler itself would read it.
Scores are int64: a float such as ``7.0`` would fail the scheduler's decode,
so they are written as Python ints.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: ``extender/v1`` MinExtenderPriority and MaxExtenderPriority.
MIN_EXTENDER_PRIORITY = 0
MAX_EXTENDER_PRIORITY = 10


class WireError(ValueError):
    """A request that does not decode; ``field`` is the Go field path."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


@dataclass(frozen=True)
class ExtenderArgs:
    """``ExtenderArgs``: the pod, and the candidate nodes as objects or (cache mode) names."""

    pod: Mapping[str, Any]
    nodes: list[Mapping[str, Any]] | None
    node_names: list[str] | None

    @property
    def names(self) -> list[str]:
        """The candidate nodes' names, whichever way they were sent."""
        if self.node_names is not None:
            return self.node_names
        return [_node_name(node, f"Nodes.items[{i}]") for i, node in enumerate(self.nodes or ())]


@dataclass(frozen=True)
class BindingArgs:
    """``ExtenderBindingArgs``."""

    pod_name: str
    pod_namespace: str
    pod_uid: str
    node: str


@dataclass(frozen=True)
class Victims:
    """``Victims`` / ``MetaVictims``: the pods to evict on one node, by UID."""

    pod_uids: tuple[str, ...]
    num_pdb_violations: int


@dataclass(frozen=True)
class PreemptionArgs:
    """``ExtenderPreemptionArgs``; full victims are reduced to their UIDs."""

    pod: Mapping[str, Any]
    victims: dict[str, Victims]


def parse_json(body: bytes) -> object:
    """The request body as JSON; `WireError` for anything else."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WireError("body", f"is not JSON ({error.__class__.__name__})") from None


def extender_args(document: object) -> ExtenderArgs:
    """Read ``ExtenderArgs`` (filter and prioritize)."""
    root = _struct(document, "ExtenderArgs")
    pod = _struct(field(root, "Pod"), "Pod", required=True)
    node_list = field(root, "Nodes")
    nodes = None
    if node_list is not None:
        items = _struct(node_list, "Nodes").get("items")
        nodes = [_struct(n, f"Nodes.items[{i}]") for i, n in enumerate(_list(items, "Nodes.items"))]
    names = field(root, "NodeNames")
    node_names = None
    if names is not None:
        node_names = [
            _string(n, f"NodeNames[{i}]") for i, n in enumerate(_list(names, "NodeNames"))
        ]
    return ExtenderArgs(pod, nodes, node_names)


def binding_args(document: object) -> BindingArgs:
    """Read ``ExtenderBindingArgs``; every field is required to create a Binding."""
    root = _struct(document, "ExtenderBindingArgs")
    values = {
        name: _string(field(root, name), name, required=True)
        for name in ("PodName", "PodNamespace", "PodUID", "Node")
    }
    return BindingArgs(values["PodName"], values["PodNamespace"], values["PodUID"], values["Node"])


def preemption_args(document: object) -> PreemptionArgs:
    """Read ``ExtenderPreemptionArgs``: meta victims (cache mode) or full victim pods."""
    root = _struct(document, "ExtenderPreemptionArgs")
    pod = _struct(field(root, "Pod"), "Pod", required=True)
    meta = field(root, "NodeNameToMetaVictims")
    full = field(root, "NodeNameToVictims")
    source, name = (
        (meta, "NodeNameToMetaVictims") if meta is not None else (full, "NodeNameToVictims")
    )
    victims = {
        str(node): _victims(entry, f"{name}[{json.dumps(node)}]", meta is not None)
        for node, entry in _struct(source, name).items()
    }
    return PreemptionArgs(pod, victims)


def filter_result(
    nodes: list[Mapping[str, Any]] | None,
    node_names: list[str] | None,
    failed: Mapping[str, str],
    unresolvable: Mapping[str, str],
    error: str = "",
) -> dict[str, Any]:
    """``ExtenderFilterResult``; ``Nodes`` is a NodeList when set, every key always present."""
    return {
        "Nodes": None if nodes is None else {"metadata": {}, "items": nodes},
        "NodeNames": node_names,
        "FailedNodes": dict(failed),
        "FailedAndUnresolvableNodes": dict(unresolvable),
        "Error": error,
    }


def host_priority_list(scores: Mapping[str, int]) -> list[dict[str, Any]]:
    """``HostPriorityList``: a bare array of ``{"Host", "Score"}`` with integer scores."""
    return [{"Host": host, "Score": int(score)} for host, score in scores.items()]


def binding_result(error: str = "") -> dict[str, str]:
    """``ExtenderBindingResult``."""
    return {"Error": error}


def preemption_result(victims: Mapping[str, Victims]) -> dict[str, Any]:
    """``ExtenderPreemptionResult``: ``NodeNameToMetaVictims`` (the only field)."""
    return {
        "NodeNameToMetaVictims": {
            node: {
                "Pods": [{"UID": uid} for uid in v.pod_uids],
                "NumPDBViolations": v.num_pdb_violations,
            }
            for node, v in victims.items()
        }
    }


def field(struct: Mapping[str, Any], name: str) -> Any:
    """Go's lookup of a struct field: the exact key, else the first case-insensitive match."""
    if name in struct:
        return struct[name]
    folded = name.casefold()
    return next((v for k, v in struct.items() if k.casefold() == folded), None)


def _victims(entry: object, where: str, meta: bool) -> Victims:
    victims = _struct(entry, where, required=True)
    uids = []
    for i, pod in enumerate(_list(field(victims, "Pods"), f"{where}.Pods")):
        at = f"{where}.Pods[{i}]"
        if meta:
            uids.append(_string(field(_struct(pod, at), "UID"), f"{at}.UID", required=True))
        else:
            metadata = _struct(_struct(pod, at).get("metadata"), f"{at}.metadata")
            uids.append(_string(metadata.get("uid"), f"{at}.metadata.uid", required=True))
    count = field(victims, "NumPDBViolations")
    if count is None:
        count = 0
    if isinstance(count, bool) or not isinstance(count, int):
        raise WireError(f"{where}.NumPDBViolations", "must be an integer")
    return Victims(tuple(uids), count)


def _node_name(node: Mapping[str, Any], where: str) -> str:
    metadata = _struct(node.get("metadata"), f"{where}.metadata", required=True)
    return _string(metadata.get("name"), f"{where}.metadata.name", required=True)


def _struct(value: object, where: str, *, required: bool = False) -> Mapping[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise WireError(where, "is required" if value is None else "must be an object")
    return value


def _list(value: object, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise WireError(where, "must be an array")
    return value


def _string(value: object, where: str, *, required: bool = False) -> str:
    if not isinstance(value, str) or (required and not value):
        raise WireError(where, "must be a non-empty string" if required else "must be a string")
    return value
