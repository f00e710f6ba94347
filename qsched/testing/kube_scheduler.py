"""A replica of kube-scheduler's extender client and of the default profile's resource plugins.

No kube-scheduler binary runs here, so the extender is tested and benchmarked against this
replica instead. Each piece follows one upstream Go file (kubernetes/kubernetes master, the
1.34/1.35 line) and says which:

* `HTTPExtender` -- ``pkg/scheduler/extender.go`` (the wire client), with the ``extender/v1``
  types of k8s.io/kube-scheduler encoded and decoded the way Go's ``encoding/json`` does it
  (field names as keys, nil as null, case-insensitive keys on input, unknown keys ignored,
  integers that must be integers);
* `ClusterScheduler` -- the extender-facing parts of ``pkg/scheduler/schedule_one.go``
  (``schedulePod``, ``findNodesThatPassFilters``, ``numFeasibleNodesToFind``,
  ``findNodesThatPassExtenders``, ``prioritizeNodes``, ``selectHost``, ``extendersBinding``),
  with the NodeResourcesFit filter (``plugins/noderesources/fit.go``) and the LeastAllocated,
  MostAllocated and BalancedAllocation scores (``least_allocated.go``, ``most_allocated.go``,
  ``balanced_allocation.go``, ``resource_allocation.go``).

Resource amounts are kept as Go keeps them: int64 milli-CPU and int64 bytes/units, so that the
scores come out of the same integer arithmetic.
"""

from __future__ import annotations

import json
import math
import random
import re
import ssl
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import requests
from requests.adapters import HTTPAdapter

from qsched.service.extender.resources import (
    POD_SLOTS,
    container_requests,
    parse_quantity,
    pod_requests,
)

#: ``fwk.MaxNodeScore`` and ``extenderv1.MaxExtenderPriority``: an extender's 0..10 is scaled
#: by their ratio (10) into the plugins' 0..100 (schedule_one.go, prioritizeNodes).
MAX_NODE_SCORE = 100
MAX_EXTENDER_PRIORITY = 10
#: extender.go DefaultExtenderTimeout.
DEFAULT_EXTENDER_TIMEOUT = 5.0
#: pkg/scheduler/util: what a container without a cpu/memory request counts as when scoring.
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024
#: schedule_one.go: the scheduler stops filtering once this many nodes (or this percentage) fit.
MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5

LEAST_ALLOCATED = "NodeResourcesLeastAllocated"
MOST_ALLOCATED = "NodeResourcesMostAllocated"
BALANCED_ALLOCATION = "NodeResourcesBalancedAllocation"
DEFAULT_SCORING: tuple[tuple[str, int], ...] = ((LEAST_ALLOCATED, 1), (BALANCED_ALLOCATION, 1))

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_CPU, _MEMORY, _EPHEMERAL = "cpu", "memory", "ephemeral-storage"


class ExtenderError(Exception):
    """An extender call failed: transport, timeout, non-200, undecodable body or its Error field.

    kube-scheduler fails the pod's scheduling attempt on it unless the extender is ignorable.
    """


# --- Go's encoding/json ------------------------------------------------------------------------

#: json.Marshal escapes these even inside strings (HTML safety, JavaScript line separators).
_GO_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def go_marshal(value: Any) -> bytes:
    """``json.Marshal``'s bytes for a value built from the Go structs' field names.

    Compact, UTF-8, with Go's HTML escapes. Map keys must already be sorted by the caller
    where Go sorts them (maps, not structs).
    """
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.translate(_GO_ESCAPES).encode()


class _Literal(float):
    """A JSON number with a fraction or exponent, kept with its text for Go's error message."""

    text: str

    def __new__(cls, text: str) -> _Literal:
        number = super().__new__(cls, text)
        number.text = text
        return number


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"invalid character {name[0]!r} looking for beginning of value")


_DECODER = json.JSONDecoder(parse_float=_Literal, parse_constant=_refuse_constant)


def go_unmarshal(body: bytes) -> Any:
    """The first JSON value of a body, as ``json.NewDecoder(body).Decode`` reads it.

    Leading whitespace is skipped and whatever follows the first value is never read; NaN
    and Infinity are not JSON to Go; invalid UTF-8 becomes U+FFFD.
    """
    text = body.decode("utf-8", errors="replace").lstrip(" \t\r\n")
    try:
        value, _ = _DECODER.raw_decode(text)
    except ValueError as error:
        raise ExtenderError(f"decoding the extender's response: {error}") from error
    return value


def _kind(value: Any) -> str:
    """How Go's UnmarshalTypeError names a JSON value."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, _Literal):
        return f"number {value.text}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _type_error(value: Any, where: str, go_type: str) -> ExtenderError:
    return ExtenderError(
        f"json: cannot unmarshal {_kind(value)} into Go struct field {where} of type {go_type}"
    )


def _field(obj: Mapping[str, Any], name: str) -> Any:
    """A struct field from a JSON object: keys match case-insensitively, the last match wins."""
    lowered = name.lower()
    value = None
    for key, item in obj.items():
        if key.lower() == lowered:
            value = item
    return value


def _object(value: Any, where: str, go_type: str) -> Mapping[str, Any] | None:
    """A JSON object for a struct or pointer field; null is the zero value (None)."""
    if value is None or isinstance(value, dict):
        return value
    raise _type_error(value, where, go_type)


def _string(value: Any, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise _type_error(value, where, "string")


def _int64(value: Any, where: str) -> int:
    """An int64 field: a float literal such as ``7.0`` or ``1e1`` is refused, as Go refuses it."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and _INT64_MIN <= value <= _INT64_MAX:
        return value
    raise _type_error(value, where, "int64")


def _list(value: Any, where: str, go_type: str) -> list[Any] | None:
    if value is None or isinstance(value, list):
        return value
    raise _type_error(value, where, go_type)


def _string_list(value: Any, where: str) -> list[str] | None:
    items = _list(value, where, "[]string")
    return None if items is None else [_string(item, where) for item in items]


def _string_map(value: Any, where: str) -> dict[str, str]:
    mapping = _object(value, where, "v1.FailedNodesMap") or {}
    return {str(key): _string(item, where) for key, item in mapping.items()}


def _node_list_names(value: Any, where: str) -> list[str] | None:
    """The node names of a ``*v1.NodeList`` (``items[].metadata.name``); null is nil."""
    node_list = _object(value, where, "v1.NodeList")
    if node_list is None:
        return None
    names = []
    for node in _list(_field(node_list, "items"), f"{where}.items", "[]v1.Node") or ():
        node_object = _object(node, f"{where}.items", "v1.Node") or {}
        metadata = _object(
            _field(node_object, "metadata"), f"{where}.items.metadata", "v1.ObjectMeta"
        )
        names.append(_string(_field(metadata or {}, "name"), f"{where}.items.metadata.name"))
    return names


def node_name(node: Mapping[str, Any]) -> str:
    """``metadata.name`` of a v1.Node (or v1.Pod) JSON object."""
    return str((node.get("metadata") or {}).get("name", ""))


def _uid(pod: Mapping[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("uid", ""))


# --- configuration -----------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0}
_DURATION_UNITS |= {"m": 60.0, "h": 3600.0}


def parse_go_duration(text: str) -> float:
    """Seconds in a Go ``time.Duration`` string (``"5s"``, ``"500ms"``, ``"1m30s"``, ``"0"``)."""
    body = text.strip()
    sign = -1.0 if body.startswith("-") else 1.0
    body = body.lstrip("+-")
    if body == "0":
        return 0.0
    parts = _DURATION_PART.findall(body)
    if not parts or "".join(number + unit for number, unit in parts) != body:
        raise ValueError(f"time: invalid duration {text!r}")
    return sign * sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)


@dataclass(frozen=True)
class ExtenderConfig:
    """One ``extenders[]`` entry of a KubeSchedulerConfiguration (apis/config/types.go Extender).

    ``ignored_by_scheduler`` are the managed resources marked ``ignoredByScheduler``: the
    scheduler leaves them out of its own NodeResourcesFit check (scheduler.go buildExtenders).
    """

    url_prefix: str
    filter_verb: str = ""
    prioritize_verb: str = ""
    preempt_verb: str = ""
    bind_verb: str = ""
    weight: int = 0
    http_timeout: float = DEFAULT_EXTENDER_TIMEOUT
    node_cache_capable: bool = False
    ignorable: bool = False
    managed_resources: tuple[str, ...] = ()
    ssl_context: ssl.SSLContext | None = None
    ignored_by_scheduler: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # validation.go validateExtenders: a prioritizer needs a positive weight.
        if self.prioritize_verb and self.weight <= 0:
            raise ValueError(f"extender {self.url_prefix}: weight must be positive to prioritize")
        if self.http_timeout < 0:
            raise ValueError(f"extender {self.url_prefix}: httpTimeout must not be negative")

    @classmethod
    def from_scheduler_config(
        cls, entry: Mapping[str, Any], ssl_context: ssl.SSLContext | None = None
    ) -> ExtenderConfig:
        """An entry as written in KubeSchedulerConfiguration (camelCase keys, Go durations).

        ``httpTimeout`` of zero or absent means 5 s (NewHTTPExtender). With ``enableHTTPS``
        and no ``ssl_context``, ``tlsConfig`` gives ``caFile``/``caData``/``certFile``/
        ``keyFile``/``insecure``; without a CA the server is not verified, as in makeTransport.
        """
        timeout = parse_go_duration(str(entry.get("httpTimeout") or "0"))
        managed = entry.get("managedResources") or ()
        if ssl_context is None and entry.get("enableHTTPS"):
            ssl_context = _tls_context(entry.get("tlsConfig") or {})
        return cls(
            url_prefix=str(entry["urlPrefix"]),
            filter_verb=str(entry.get("filterVerb") or ""),
            prioritize_verb=str(entry.get("prioritizeVerb") or ""),
            preempt_verb=str(entry.get("preemptVerb") or ""),
            bind_verb=str(entry.get("bindVerb") or ""),
            weight=int(entry.get("weight") or 0),
            http_timeout=timeout or DEFAULT_EXTENDER_TIMEOUT,
            node_cache_capable=bool(entry.get("nodeCacheCapable")),
            ignorable=bool(entry.get("ignorable")),
            managed_resources=tuple(str(r["name"]) for r in managed),
            ssl_context=ssl_context,
            ignored_by_scheduler=tuple(
                str(r["name"]) for r in managed if r.get("ignoredByScheduler")
            ),
        )


def _tls_context(tls: Mapping[str, Any]) -> ssl.SSLContext:
    unsupported = set(tls) - {"caFile", "caData", "certFile", "keyFile", "insecure"}
    if unsupported:
        raise ValueError(f"tlsConfig {sorted(unsupported)}: pass an ssl_context instead")
    context = ssl.create_default_context(cafile=tls.get("caFile"))
    if tls.get("caData"):
        context.load_verify_locations(cadata=tls["caData"])
    if tls.get("insecure") or not (tls.get("caFile") or tls.get("caData")):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if tls.get("certFile"):
        context.load_cert_chain(tls["certFile"], tls.get("keyFile"))
    return context


class _ContextAdapter(HTTPAdapter):
    """Hands a caller's SSLContext to urllib3's pools (requests has no argument for it)."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)


# --- the extender client -----------------------------------------------------------------------


class HTTPExtender:
    """extender.go's HTTPExtender: POSTs ``extender/v1`` JSON to ``urlPrefix/verb``.

    Synchronous, on one keep-alive session. ``latency`` records the seconds of every call
    (encode, round trip, decode; failures too) by verb kind: ``filter``, ``prioritize``,
    ``preempt``, ``bind``.
    """

    def __init__(self, config: ExtenderConfig) -> None:
        self.config = config
        self.name = config.url_prefix
        self.latency: dict[str, list[float]] = {}
        self._managed = frozenset(config.managed_resources)
        self._session = requests.Session()
        # Go's client reads no .netrc; the environment's proxies would only reroute loopback.
        self._session.trust_env = False
        if config.ssl_context is not None:
            self._session.mount("https://", _ContextAdapter(config.ssl_context))
            self._session.verify = config.ssl_context.verify_mode != ssl.CERT_NONE

    def close(self) -> None:
        self._session.close()

    def is_interested(self, pod: Mapping[str, Any]) -> bool:
        """IsInterested: no managed resources, or a container or init container that requests
        or limits one of them."""
        if not self._managed:
            return True
        spec = pod.get("spec") or {}
        for container in [*(spec.get("containers") or ()), *(spec.get("initContainers") or ())]:
            resources = container.get("resources") or {}
            names = {*(resources.get("requests") or {}), *(resources.get("limits") or {})}
            if names & self._managed:
                return True
        return False

    def is_binder(self) -> bool:
        return bool(self.config.bind_verb)

    def is_ignorable(self) -> bool:
        return self.config.ignorable

    def supports_preemption(self) -> bool:
        return bool(self.config.preempt_verb)

    def is_filter(self) -> bool:
        return bool(self.config.filter_verb)

    def is_prioritizer(self) -> bool:
        return bool(self.config.prioritize_verb)

    def _args(self, pod: Mapping[str, Any], nodes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """ExtenderArgs: node names for a node-cache-capable extender, else a whole NodeList."""
        if self.config.node_cache_capable:
            return {"Pod": pod, "Nodes": None, "NodeNames": [node_name(n) for n in nodes]}
        node_list: dict[str, Any] = {"metadata": {}, "items": list(nodes) or None}
        return {"Pod": pod, "Nodes": node_list, "NodeNames": None}

    def filter(
        self, pod: Mapping[str, Any], nodes: Sequence[Mapping[str, Any]]
    ) -> tuple[list[Mapping[str, Any]], dict[str, str], dict[str, str]]:
        """Filter: the nodes that pass (the caller's node objects), failed, failed-and-unresolvable.

        A node-cache-capable extender answers ``NodeNames``; one that names a node not sent
        is an error. Otherwise (or when ``NodeNames`` is null) ``Nodes`` is read; a null
        answer for both passes no node. Go keeps the extender's own node objects in that
        case; the replica maps them back to the input by name and refuses unknown names.
        """
        if not self.config.filter_verb:
            return list(nodes), {}, {}
        result = _object(
            self._send("filter", self.config.filter_verb, self._args(pod, nodes)),
            "ExtenderFilterResult",
            "v1.ExtenderFilterResult",
        )
        result = result or {}
        names = _string_list(_field(result, "NodeNames"), "ExtenderFilterResult.NodeNames")
        listed = _node_list_names(_field(result, "Nodes"), "ExtenderFilterResult.Nodes")
        failed = _string_map(_field(result, "FailedNodes"), "ExtenderFilterResult.FailedNodes")
        unresolvable = _string_map(
            _field(result, "FailedAndUnresolvableNodes"),
            "ExtenderFilterResult.FailedAndUnresolvableNodes",
        )
        error = _string(_field(result, "Error"), "ExtenderFilterResult.Error")
        if error:
            raise ExtenderError(error)
        if not (self.config.node_cache_capable and names is not None):
            names = listed
        by_name = {node_name(node): node for node in nodes}
        passing = []
        for name in names or ():
            if name not in by_name:
                raise ExtenderError(
                    f"extender {self.name!r} claims a filtered node {name!r} which is not found "
                    "in the input node list"
                )
            passing.append(by_name[name])
        return passing, failed, unresolvable

    def prioritize(
        self, pod: Mapping[str, Any], nodes: Sequence[Mapping[str, Any]]
    ) -> tuple[dict[str, int], int]:
        """Prioritize: host -> score (a host listed twice counts twice, as Go adds both) and the
        weight. Without a prioritize verb every node scores 0 at weight 0."""
        if not self.config.prioritize_verb:
            return {node_name(node): 0 for node in nodes}, 0
        answer = self._send("prioritize", self.config.prioritize_verb, self._args(pod, nodes))
        scores: dict[str, int] = {}
        for item in _list(answer, "HostPriorityList", "v1.HostPriorityList") or ():
            entry = _object(item, "HostPriorityList", "v1.HostPriority") or {}
            host = _string(_field(entry, "Host"), "HostPriority.Host")
            scores[host] = scores.get(host, 0) + _int64(
                _field(entry, "Score"), "HostPriority.Score"
            )
        return scores, self.config.weight

    def bind(self, pod: Mapping[str, Any], node_name_: str) -> None:
        """Bind: ExtenderBindingArgs out, ExtenderBindingResult (its Error) back."""
        if not self.is_binder():
            raise ExtenderError("unexpected empty bindVerb in extender")
        metadata = pod.get("metadata") or {}
        args = {
            "PodName": str(metadata.get("name", "")),
            "PodNamespace": str(metadata.get("namespace", "")),
            "PodUID": str(metadata.get("uid", "")),
            "Node": node_name_,
        }
        result = _object(
            self._send("bind", self.config.bind_verb, args),
            "ExtenderBindingResult",
            "v1.ExtenderBindingResult",
        )
        error = _string(_field(result or {}, "Error"), "ExtenderBindingResult.Error")
        if error:
            raise ExtenderError(error)

    def process_preemption(
        self,
        pod: Mapping[str, Any],
        victims: Mapping[str, Sequence[Mapping[str, Any]]],
        pdb_violations: Mapping[str, int] | None = None,
        node_pods: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    ) -> dict[str, list[Mapping[str, Any]]]:
        """ProcessPreemption: node -> the victim pods the extender keeps.

        Sends ``NodeNameToMetaVictims`` (UIDs) to a node-cache-capable extender, else
        ``NodeNameToVictims`` (whole pods). The answer is always meta victims, resolved by UID
        against the pods on each node (``node_pods``; by default the victims sent), as
        convertToVictims does against the scheduler's cache: an unknown node or UID is an error.
        """
        if not self.supports_preemption():
            raise ExtenderError(
                f"preempt verb is not defined for extender {self.name} but run into "
                "ProcessPreemption"
            )
        violations = pdb_violations or {}
        nodes = sorted(victims)  # Go marshals map keys sorted
        if self.config.node_cache_capable:
            meta = {
                node: {
                    "Pods": [{"UID": _uid(p)} for p in victims[node]],
                    "NumPDBViolations": violations.get(node, 0),
                }
                for node in nodes
            }
            args = {"Pod": pod, "NodeNameToVictims": None, "NodeNameToMetaVictims": meta}
        else:
            whole = {
                node: {"Pods": list(victims[node]), "NumPDBViolations": violations.get(node, 0)}
                for node in nodes
            }
            args = {"Pod": pod, "NodeNameToVictims": whole, "NodeNameToMetaVictims": None}
        result = _object(
            self._send("preempt", self.config.preempt_verb, args),
            "ExtenderPreemptionResult",
            "v1.ExtenderPreemptionResult",
        )
        where = "ExtenderPreemptionResult.NodeNameToMetaVictims"
        answer = _object(_field(result or {}, "NodeNameToMetaVictims"), where, "map") or {}
        on_nodes = victims if node_pods is None else node_pods
        resolved: dict[str, list[Mapping[str, Any]]] = {}
        for node, meta_victims in answer.items():
            if node not in on_nodes:
                raise ExtenderError(f"nodeinfo not found for node name {node!r}")
            entry = _object(meta_victims, where, "v1.MetaVictims")
            if entry is None:
                raise ExtenderError(f"extender {self.name}: null victims for node {node!r}")
            _int64(_field(entry, "NumPDBViolations"), "MetaVictims.NumPDBViolations")
            by_uid = {_uid(p): p for p in on_nodes[node]}
            resolved[node] = []
            for meta_pod in _list(_field(entry, "Pods"), "MetaVictims.Pods", "[]*v1.MetaPod") or ():
                uid = _string(
                    _field(_object(meta_pod, "MetaVictims.Pods", "v1.MetaPod") or {}, "UID"),
                    "MetaPod.UID",
                )
                if uid not in by_uid:
                    raise ExtenderError(
                        f"extender: {self.name} claims to preempt pod (UID: {uid}) on node: "
                        f"{node}, but the pod is not found on that node"
                    )
                resolved[node].append(by_uid[uid])
        return resolved

    def _send(self, kind: str, verb: str, args: Mapping[str, Any]) -> Any:
        """send(): POST, 200 or an error, then decode; the whole call bounded by httpTimeout
        (Go's http.Client.Timeout covers connect, headers and body)."""
        url = self.config.url_prefix.rstrip("/") + "/" + verb
        start = time.perf_counter()
        try:
            return go_unmarshal(self._post(url, go_marshal(args), start))
        finally:
            self.latency.setdefault(kind, []).append(time.perf_counter() - start)

    def _post(self, url: str, body: bytes, start: float) -> bytes:
        timeout = self.config.http_timeout
        try:
            with self._session.post(
                url,
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=(timeout, timeout),
                stream=True,
            ) as response:
                if response.status_code != 200:
                    raise ExtenderError(
                        f"failed {url.rsplit('/', 1)[1]} with extender at URL {url}, "
                        f"code {response.status_code}"
                    )
                chunks = []
                for chunk in response.iter_content(65536):
                    chunks.append(chunk)
                    if time.perf_counter() - start > timeout:
                        break
        except requests.RequestException as error:
            raise ExtenderError(f"Post {url!r}: {error}") from error
        if time.perf_counter() - start > timeout:
            raise ExtenderError(
                f"Post {url!r}: context deadline exceeded (Client.Timeout exceeded while "
                "awaiting headers)"
            )
        return b"".join(chunks)


# --- the scheduler's view of resources ---------------------------------------------------------


def _whole(amount: float) -> int:
    """``Quantity.Value()`` (and, on milli units, ``MilliValue()``): rounded up to an integer,
    after forgiving the float noise of summing decimal quantities (0.1 + 0.2 is 300m, not 301m)."""
    nearest = round(amount)
    if abs(amount - nearest) <= 1e-9 * max(1.0, abs(amount)):
        return int(nearest)
    return math.ceil(amount)


def _units(name: str, amount: float) -> int:
    return _whole(amount * 1000.0 if name == _CPU else amount)


def _is_scalar(name: str) -> bool:
    """schedutil.IsScalarResourceName: extended (``vendor/name``), prefixed native
    (``kubernetes.io/...``), hugepages and attachable volumes are tracked; other names are not."""
    return "/" in name or name.startswith(("hugepages-", "attachable-volumes-"))


def _is_extended(name: str) -> bool:
    """v1helper.IsExtendedResourceName: only these can be ignored by the scheduler's fit check."""
    return "/" in name and "kubernetes.io/" not in name


def nonzero_requests(pod: Mapping[str, Any]) -> dict[str, float]:
    """The requests scoring sees for cpu and memory (``NonMissingContainerRequests``).

    Each container or init container that does not request cpu (memory) counts as 100m
    (200Mi); an explicit zero stays zero (component-helpers resource.applyNonMissing). The
    rest of the rule -- sidecars, init containers, pod-level requests, overhead -- is
    `pod_requests`', applied to the pod with those defaults filled in.
    """
    spec = dict(pod.get("spec") or {})
    for key in ("containers", "initContainers"):
        filled = []
        for index, container in enumerate(spec.get(key) or ()):
            present = container_requests(container, f"spec.{key}[{index}]")
            resources = dict(container.get("resources") or {})
            requests_ = dict(resources.get("requests") or {})
            if _CPU not in present:
                requests_[_CPU] = f"{DEFAULT_MILLI_CPU_REQUEST}m"
            if _MEMORY not in present:
                requests_[_MEMORY] = DEFAULT_MEMORY_REQUEST
            filled.append({**container, "resources": {**resources, "requests": requests_}})
        if key in spec:
            spec[key] = filled
    totals = pod_requests({**pod, "spec": spec})
    return {_CPU: totals.get(_CPU, 0.0), _MEMORY: totals.get(_MEMORY, 0.0)}


@dataclass(frozen=True)
class _Demand:
    """A pod as the scheduler's cache counts it: its tracked requests by column (int64 units)
    and its non-zero cpu/memory for scoring."""

    requests: dict[int, int]
    nonzero: tuple[int, int]


@dataclass(frozen=True)
class _Checked:
    """What one cycle's filter saw: each fit check's failing mask and the nodes it checked."""

    failures: list[tuple[str, np.ndarray]]
    nodes: np.ndarray


# --- the scheduler -----------------------------------------------------------------------------


class ClusterScheduler:
    """The default scheduler's cycle, as far as extenders and resources go (schedule_one.go).

    For each pod: NodeResourcesFit over the nodes, starting where the last cycle stopped and
    stopping at ``numFeasibleNodesToFind`` (``percentage_of_nodes_to_score`` 0 is the adaptive
    default: 50% - nodes/125, at least 5% and 100 nodes); the interested extenders' filters in
    turn; one feasible node is taken as is, more are scored (plugins x weight, plus extender
    Score x weight x 10) and a uniform random one of the best is picked (selectHost); then the
    pod is assumed and bound (by the first interested binder extender, else directly).

    ``scoring`` names score plugins with weights: ``NodeResourcesLeastAllocated`` and
    ``NodeResourcesMostAllocated`` (NodeResourcesFit's strategies, cpu:1 memory:1) and
    ``NodeResourcesBalancedAllocation`` (cpu, memory).

    ``bound`` maps pod UIDs to nodes; ``last_status`` says why the last pod stayed pending.
    """

    def __init__(
        self,
        nodes: Sequence[Mapping[str, Any]],
        extenders: Sequence[HTTPExtender] = (),
        scoring: Sequence[tuple[str, int]] = DEFAULT_SCORING,
        seed: int = 0,
        *,
        percentage_of_nodes_to_score: int = 0,
    ) -> None:
        unknown = {name for name, _ in scoring} - {
            LEAST_ALLOCATED,
            MOST_ALLOCATED,
            BALANCED_ALLOCATION,
        }
        if unknown:
            raise ValueError(f"unknown score plugins {sorted(unknown)}")
        if sum(extender.is_binder() for extender in extenders) > 1:
            raise ValueError("only one extender can implement bind")  # validation.go
        self.extenders = tuple(extenders)
        self.scoring = tuple(scoring)
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self.bound: dict[str, str] = {}
        self.last_status = ""
        self._rng = random.Random(seed)
        self._nodes = list(nodes)
        self._names = [node_name(node) for node in self._nodes]
        self._index = {name: i for i, name in enumerate(self._names)}
        if len(self._index) != len(self._names):
            raise ValueError("node names must be unique")
        self._ignored = frozenset(r for e in extenders for r in e.config.ignored_by_scheduler)
        self._columns: dict[str, int] = {_CPU: 0, _MEMORY: 1, _EPHEMERAL: 2}
        count = len(self._nodes)
        self._allocatable = np.zeros((count, 3), dtype=np.int64)
        self._requested = np.zeros((count, 3), dtype=np.int64)
        self._nonzero = np.zeros((count, 2), dtype=np.int64)
        self._pod_count = np.zeros(count, dtype=np.int64)
        self._allowed_pods = np.zeros(count, dtype=np.int64)
        for i, node in enumerate(self._nodes):
            field = f"nodes[{i}].status.allocatable"
            allocatable = (node.get("status") or {}).get("allocatable") or {}
            for name, quantity in allocatable.items():
                amount = _units(name, parse_quantity(quantity, f"{field}.{name}"))
                if name == POD_SLOTS:
                    self._allowed_pods[i] = amount
                elif name in self._columns or _is_scalar(name):
                    column = self._column(name)  # may widen the arrays: index them after
                    self._allocatable[i, column] = amount
        self._next_start = 0
        self._pods: dict[str, tuple[int, _Demand, Mapping[str, Any]]] = {}

    @property
    def extender_latency(self) -> dict[str, list[float]]:
        """Seconds per extender call by verb kind, all extenders together."""
        merged: dict[str, list[float]] = {}
        for extender in self.extenders:
            for kind, seconds in extender.latency.items():
                merged.setdefault(kind, []).extend(seconds)
        return merged

    def pods_on(self, node: str) -> list[Mapping[str, Any]]:
        """The pods the scheduler counts on a node (its NodeInfo.Pods)."""
        index = self._index[node]
        return [pod for i, _, pod in self._pods.values() if i == index]

    def _column(self, name: str) -> int:
        """The column of a resource, added (zero everywhere) the first time it is seen."""
        if name not in self._columns:
            self._columns[name] = len(self._columns)
            pad = np.zeros((len(self._nodes), 1), dtype=np.int64)
            self._allocatable = np.hstack([self._allocatable, pad])
            self._requested = np.hstack([self._requested, pad])
        return self._columns[name]

    def _demand(self, pod: Mapping[str, Any]) -> _Demand:
        requests_ = {
            self._column(name): _units(name, amount)
            for name, amount in pod_requests(pod).items()
            if name in (_CPU, _MEMORY, _EPHEMERAL) or _is_scalar(name)
        }
        nonzero = nonzero_requests(pod)
        return _Demand(requests_, (_units(_CPU, nonzero[_CPU]), _units(_MEMORY, nonzero[_MEMORY])))

    def add_bound_pod(self, pod: Mapping[str, Any], node: str) -> None:
        """Count a pod already running on a node (an informer's assigned pod)."""
        self._assume(pod, self._index[node], self._demand(pod))

    def _assume(self, pod: Mapping[str, Any], index: int, demand: _Demand) -> None:
        uid = _uid(pod)
        if uid in self._pods:
            raise ValueError(f"pod {uid!r} is already on a node")
        for column, amount in demand.requests.items():
            self._requested[index, column] += amount
        self._nonzero[index] += demand.nonzero
        self._pod_count[index] += 1
        self._pods[uid] = (index, demand, pod)
        self.bound[uid] = self._names[index]

    def remove_pod(self, uid: str) -> None:
        """A finished (or forgotten) pod gives its node's resources back."""
        index, demand, _ = self._pods.pop(uid)
        for column, amount in demand.requests.items():
            self._requested[index, column] -= amount
        self._nonzero[index] -= demand.nonzero
        self._pod_count[index] -= 1
        del self.bound[uid]

    # -- filtering --

    def _fit_failures(self, demand: _Demand) -> list[tuple[str, np.ndarray]]:
        """fitsRequest, on every node at once: (reason, failing mask) per check."""
        failures = [("Too many pods", self._pod_count + 1 > self._allowed_pods)]
        names = {column: name for name, column in self._columns.items()}
        for column, amount in demand.requests.items():
            name = names[column]
            if amount <= 0 or (name in self._ignored and _is_extended(name)):
                continue
            free = self._allocatable[:, column] - self._requested[:, column]
            failures.append((f"Insufficient {name}", amount > free))
        return failures

    def _num_feasible_nodes_to_find(self, count: int) -> int:
        has_scoring = bool(self.scoring) or any(e.is_prioritizer() for e in self.extenders)
        if not has_scoring and not any(e.is_filter() for e in self.extenders):
            return 1
        if count < MIN_FEASIBLE_NODES_TO_FIND:
            return count
        percentage = self.percentage_of_nodes_to_score
        if percentage == 0:
            percentage = max(50 - count // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
        return max(count * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)

    def _find_feasible(self, demand: _Demand) -> tuple[np.ndarray, _Checked]:
        """findNodesThatPassFilters, checking nodes in turn from where the last cycle stopped
        (Go checks them 16 at a time; in turn is its deterministic equivalent)."""
        count = len(self._nodes)
        failures = self._fit_failures(demand)
        fits = ~np.logical_or.reduce([mask for _, mask in failures])
        order = (self._next_start + np.arange(count)) % count
        positions = np.flatnonzero(fits[order])
        limit = self._num_feasible_nodes_to_find(count)
        processed = count if len(positions) <= limit else int(positions[limit - 1]) + 1
        self._next_start = (self._next_start + processed) % count
        return order[positions[:limit]], _Checked(failures, order[:processed])

    def _fit_statuses(self, checked: _Checked) -> dict[str, list[str]]:
        """The Diagnosis' node statuses: the fit reasons of every node checked and failed."""
        statuses: dict[str, list[str]] = {}
        for reason, mask in checked.failures:
            for i in checked.nodes[mask[checked.nodes]]:
                statuses.setdefault(self._names[i], []).append(reason)
        return statuses

    def _pass_extenders(
        self, pod: Mapping[str, Any], feasible: np.ndarray, statuses: dict[str, list[str]]
    ) -> np.ndarray:
        """findNodesThatPassExtenders: each interested extender filters what the last one left;
        the nodes it fails get its message as their status (unresolvable over failed)."""
        for extender in self.extenders:
            if len(feasible) == 0:
                break
            if not extender.is_interested(pod):
                continue
            try:
                passing, failed, unresolvable = extender.filter(
                    pod, [self._nodes[i] for i in feasible]
                )
            except ExtenderError:
                if extender.is_ignorable():
                    continue
                raise
            for name, message in {**failed, **unresolvable}.items():
                statuses[name] = [message]
            feasible = np.array([self._index[node_name(n)] for n in passing], dtype=np.int64)
        return feasible

    # -- scoring --

    def plugin_scores(self, pod: Mapping[str, Any]) -> dict[str, dict[str, int]]:
        """Each configured score plugin's raw 0..100 score for the pod on every node (no filter,
        no weight; empty when the plugin skips the pod): the numbers the Go unit tests pin."""
        demand = self._demand(pod)
        result = {}
        for name, _ in self.scoring:
            scores = self._plugin_score(name, demand)
            listed = [] if scores is None else scores.tolist()
            result[name] = dict(zip(self._names, listed, strict=False))
        return result

    def _plugin_score(
        self, name: str, demand: _Demand, nodes: np.ndarray | None = None
    ) -> np.ndarray | None:
        """One plugin's scores on the given nodes (all by default); None if it skips the pod."""
        rows = slice(None) if nodes is None else nodes
        allocatable = self._allocatable[rows, :2]
        if name == BALANCED_ALLOCATION:
            pod = np.array([demand.requests.get(0, 0), demand.requests.get(1, 0)], dtype=np.int64)
            if not pod.any():
                return None  # PreScore: best-effort pods are not balanced (issue 129138)
            return _balanced(self._requested[rows, :2] + pod, allocatable)
        requested = self._nonzero[rows] + np.array(demand.nonzero, dtype=np.int64)
        scorer = _least_requested if name == LEAST_ALLOCATED else _most_requested
        return _weighted_mean(scorer(requested, allocatable), allocatable)

    def _total_scores(
        self, pod: Mapping[str, Any], demand: _Demand, feasible: np.ndarray
    ) -> np.ndarray:
        """prioritizeNodes: weighted plugin scores plus every interested extender's."""
        totals = np.zeros(len(feasible), dtype=np.int64)
        if not self.extenders and not self.scoring:
            return totals + 1
        for name, weight in self.scoring:
            scores = self._plugin_score(name, demand, feasible)
            if scores is not None:
                totals += scores * weight
        extra: dict[str, int] = {}
        for extender in self.extenders:
            if not extender.is_interested(pod):
                continue
            try:
                by_host, weight = extender.prioritize(pod, [self._nodes[i] for i in feasible])
            except ExtenderError:
                continue  # prioritize errors are ignored: this extender gives no score
            factor = weight * (MAX_NODE_SCORE // MAX_EXTENDER_PRIORITY)
            for host, score in by_host.items():
                extra[host] = extra.get(host, 0) + score * factor
        if extra:
            totals += np.array([extra.get(self._names[i], 0) for i in feasible], dtype=np.int64)
        return totals

    # -- the cycle --

    def schedule(self, pod: Mapping[str, Any]) -> str | None:
        """One scheduling cycle and its binding: the node the pod is bound to, or None (pending,
        with the reason in ``last_status``)."""
        self.last_status = ""
        if not self._nodes:
            self.last_status = "no nodes available to schedule pods"
            return None
        if _uid(pod) in self._pods:
            raise ValueError(f"pod {_uid(pod)!r} is already on a node")
        demand = self._demand(pod)
        feasible, checked = self._find_feasible(demand)
        extender_statuses: dict[str, list[str]] = {}
        try:
            feasible = self._pass_extenders(pod, feasible, extender_statuses)
        except ExtenderError as error:
            self.last_status = str(error)
            return None
        if len(feasible) == 0:
            statuses = self._fit_statuses(checked) | extender_statuses
            self.last_status = _fit_error(len(self._nodes), statuses)
            return None
        if len(feasible) == 1:
            chosen = int(feasible[0])
        else:
            totals = self._total_scores(pod, demand, feasible)
            best = feasible[totals == totals.max()]
            chosen = int(best[self._rng.randrange(len(best))])
        self._assume(pod, chosen, demand)
        try:
            self._bind(pod, self._names[chosen])
        except ExtenderError as error:
            self.remove_pod(_uid(pod))  # ForgetPod: the binding failed, the pod is retried later
            self.last_status = str(error)
            return None
        return self._names[chosen]

    def _bind(self, pod: Mapping[str, Any], node: str) -> None:
        """extendersBinding: the first interested binder binds (an ignorable one that fails is
        passed over); with none, the default binder's Binding is taken as done."""
        for extender in self.extenders:
            if not extender.is_binder() or not extender.is_interested(pod):
                continue
            try:
                extender.bind(pod, node)
            except ExtenderError:
                if extender.is_ignorable():
                    continue
                raise
            return


def _least_requested(requested: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """least_allocated.go leastRequestedScore: (capacity - requested) * 100 / capacity, 0 when
    over capacity (integer division)."""
    safe = np.where(capacity == 0, 1, capacity)
    return np.where(requested > capacity, 0, (capacity - requested) * MAX_NODE_SCORE // safe)


def _most_requested(requested: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """most_allocated.go mostRequestedScore: requested (capped at capacity) * 100 / capacity."""
    safe = np.where(capacity == 0, 1, capacity)
    scores: np.ndarray = np.minimum(requested, capacity) * MAX_NODE_SCORE // safe
    return scores


def _weighted_mean(scores: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """leastResourceScorer/mostResourceScorer with cpu:1 memory:1: resources a node has none of
    are skipped; a node with none scores 0."""
    present = capacity != 0
    weight_sum = present.sum(axis=1)
    total = np.where(present, scores, 0).sum(axis=1)
    return np.where(weight_sum == 0, 0, total // np.maximum(weight_sum, 1))


def _balanced(requested: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """balanced_allocation.go balancedResourceScorer for two resources: (1 - |f1 - f2| / 2) * 100,
    fractions capped at 1; with fewer than two resources on the node the deviation is 0."""
    present = capacity != 0
    fractions = np.minimum(requested / np.where(present, capacity, 1), 1.0)
    both = present.all(axis=1)
    std = np.where(both, np.abs(fractions[:, 0] - fractions[:, 1]) / 2, 0.0)
    return ((1 - std) * float(MAX_NODE_SCORE)).astype(np.int64)


def _fit_error(count: int, statuses: Mapping[str, Iterable[str]]) -> str:
    """FitError.Error(): ``0/N nodes are available: <count reason>, ... .`` (reasons sorted)."""
    histogram: dict[str, int] = {}
    for reasons in statuses.values():
        for reason in reasons:
            histogram[reason] = histogram.get(reason, 0) + 1
    message = f"0/{count} nodes are available:"
    if histogram:
        message += " " + ", ".join(sorted(f"{n} {reason}" for reason, n in histogram.items())) + "."
    return message
