"""The kube-scheduler replica against a scripted extender on 127.0.0.1.

The server is a ThreadingHTTPServer whose answers each test scripts per verb (status, body,
delay); it records what the replica sent, byte for byte. Golden encodings come from
k8s.io/kube-scheduler extender/v1/types_test.go (TestCompatibility); plugin scores from
kubernetes/kubernetes pkg/scheduler/framework/plugins/noderesources/{least,balanced}_allocation
_test.go.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qsched.service.extender.resources import parse_quantity, pod_requests
from qsched.testing.kube_scheduler import (
    BALANCED_ALLOCATION,
    LEAST_ALLOCATED,
    ClusterScheduler,
    ExtenderConfig,
    ExtenderError,
    HTTPExtender,
    parse_go_duration,
)

# --- golden JSON, copied from k8s.io/kube-scheduler extender/v1/types_test.go TestCompatibility --
GOLDEN_POD = '{"metadata":{"name":"podname"},"spec":{"containers":null},"status":{}}'
GOLDEN_NODE = (
    '{"metadata":{"name":"nodename"},"spec":{},"status":{"daemonEndpoints":{"kubeletEndpoint":'
    '{"Port":0}},"nodeInfo":{"machineID":"","systemUUID":"","bootID":"","kernelVersion":"",'
    '"osImage":"","containerRuntimeVersion":"","kubeletVersion":"","kubeProxyVersion":"",'
    '"operatingSystem":"","architecture":""}}}'
)
GOLDEN_PREEMPTION_RESULT = (
    '{"NodeNameToMetaVictims":{"foo":{"Pods":[{"UID":"myuid"}],"NumPDBViolations":1}}}'
)
GOLDEN_PREEMPTION_ARGS = (
    '{"Pod":' + GOLDEN_POD + ',"NodeNameToVictims":{"foo":{"Pods":[' + GOLDEN_POD + "],"
    '"NumPDBViolations":1}},"NodeNameToMetaVictims":{"foo":{"Pods":[{"UID":"myuid"}],'
    '"NumPDBViolations":1}}}'
)
GOLDEN_EXTENDER_ARGS = (
    '{"Pod":' + GOLDEN_POD + ',"Nodes":{"metadata":{},"items":[' + GOLDEN_NODE + "]},"
    '"NodeNames":["node1"]}'
)
GOLDEN_FILTER_RESULT = (
    '{"Nodes":{"metadata":{},"items":[' + GOLDEN_NODE + ']},"NodeNames":["node1"],'
    '"FailedNodes":{"foo":"bar"},"FailedAndUnresolvableNodes":{"baz":"qux"},"Error":"myerror"}'
)
GOLDEN_BINDING_ARGS = (
    '{"PodName":"mypodname","PodNamespace":"mypodnamespace","PodUID":"mypoduid","Node":"mynode"}'
)
GOLDEN_BINDING_RESULT = '{"Error":"myerror"}'
GOLDEN_HOST_PRIORITY = '{"Host":"myhost","Score":1}'


# --- the scripted extender ---------------------------------------------------------------------


@dataclass
class Answer:
    body: str = "{}"
    status: int = 200
    delay: float = 0.0


@dataclass
class Script:
    """Answers per verb (a fixed Answer or a function of the request JSON) and what was sent."""

    answers: dict[str, Answer | Callable[[Any], Answer]] = field(default_factory=dict)
    received: list[tuple[str, bytes]] = field(default_factory=list)

    def sent(self, verb: str) -> list[bytes]:
        return [body for path, body in self.received if path == verb]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    script: Script

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        verb = self.path.rsplit("/", 1)[1]
        self.script.received.append((verb, body))
        answer = self.script.answers.get(verb, Answer(status=404))
        if callable(answer):
            answer = answer(json.loads(body))
        time.sleep(answer.delay)
        payload = answer.body.encode()
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (timeout tests)
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()
    handler = type("Handler", (_Handler,), {"script": script})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/ext", script
    httpd.shutdown()
    httpd.server_close()


def extender(url: str, **fields: Any) -> HTTPExtender:
    return HTTPExtender(
        ExtenderConfig(url_prefix=url, http_timeout=fields.pop("timeout", 2.0), **fields)
    )


def make_node(name: str, cpu: str = "4", memory: str = "8Gi", pods: int = 110) -> dict[str, Any]:
    allocatable = {"cpu": cpu, "memory": memory, "pods": str(pods)}
    return {"metadata": {"name": name}, "status": {"allocatable": allocatable}}


def make_pod(uid: str, *containers: dict[str, str], **extra: Any) -> dict[str, Any]:
    spec = {
        "containers": [
            {"name": f"c{i}", "resources": {"requests": r}} for i, r in enumerate(containers)
        ]
    }
    return {"metadata": {"name": uid, "namespace": "default", "uid": uid}, "spec": spec | extra}


def names(body: bytes) -> list[str]:
    return json.loads(body)["NodeNames"]


# --- (a) the golden encodings ------------------------------------------------------------------


def test_filter_sends_extender_args_as_go_marshals_them(server):
    url, script = server
    script.answers["filter"] = Answer('{"Nodes":null,"NodeNames":null}')
    pod, node = json.loads(GOLDEN_POD), json.loads(GOLDEN_NODE)
    extender(url, filter_verb="filter").filter(pod, [node])
    extender(url, filter_verb="filter", node_cache_capable=True).filter(pod, [node])
    whole, by_name = script.sent("filter")
    # One of Nodes / NodeNames is set, the other is null, never omitted.
    assert whole.decode() == GOLDEN_EXTENDER_ARGS.replace('["node1"]', "null")
    assert by_name.decode() == GOLDEN_EXTENDER_ARGS.replace(
        '{"metadata":{},"items":[' + GOLDEN_NODE + "]}", "null"
    ).replace('"node1"', '"nodename"')


@pytest.mark.parametrize("lowercase", [False, True], ids=["as-marshalled", "lowercased"])
def test_filter_result_is_decoded_case_insensitively(server, lowercase):
    """types_test.go also decodes each golden string lowercased: Go matches keys that way."""
    url, script = server
    answer = GOLDEN_FILTER_RESULT.replace('"Error":"myerror"', '"Error":""')
    script.answers["filter"] = Answer(answer.lower() if lowercase else answer)
    nodes = [make_node(n) for n in ("node1", "nodename", "foo", "baz")]
    pod = make_pod("p")
    passing, failed, unresolvable = extender(url, filter_verb="filter").filter(pod, nodes)
    assert [n["metadata"]["name"] for n in passing] == ["nodename"]  # Nodes, not NodeNames
    assert passing[0] is nodes[1]
    assert (failed, unresolvable) == ({"foo": "bar"}, {"baz": "qux"})
    cached = extender(url, filter_verb="filter", node_cache_capable=True).filter(pod, nodes)
    assert [n["metadata"]["name"] for n in cached[0]] == ["node1"]  # NodeNames, not Nodes

    script.answers["filter"] = Answer(
        GOLDEN_FILTER_RESULT.lower() if lowercase else GOLDEN_FILTER_RESULT
    )
    with pytest.raises(ExtenderError, match="^myerror$"):
        extender(url, filter_verb="filter").filter(pod, nodes)


@pytest.mark.parametrize("lowercase", [False, True], ids=["as-marshalled", "lowercased"])
def test_bind_and_prioritize_golden(server, lowercase):
    url, script = server
    script.answers["bind"] = Answer(
        GOLDEN_BINDING_RESULT.lower() if lowercase else GOLDEN_BINDING_RESULT
    )
    script.answers["prioritize"] = Answer(
        "[" + (GOLDEN_HOST_PRIORITY.lower() if lowercase else GOLDEN_HOST_PRIORITY) + "]"
    )
    binder = extender(url, bind_verb="bind", prioritize_verb="prioritize", weight=3)
    pod = {"metadata": {"name": "mypodname", "namespace": "mypodnamespace", "uid": "mypoduid"}}
    with pytest.raises(ExtenderError, match="^myerror$"):
        binder.bind(pod, "mynode")
    assert script.sent("bind") == [GOLDEN_BINDING_ARGS.encode()]
    assert binder.prioritize(pod, [make_node("myhost")]) == ({"myhost": 1}, 3)


def test_preemption_sends_victims_or_meta_victims(server):
    url, script = server
    script.answers["preempt"] = Answer(GOLDEN_PREEMPTION_RESULT)
    pod = json.loads(GOLDEN_POD)
    victim = {"metadata": {"name": "podname", "uid": "myuid"}, "spec": {"containers": None}}
    cached = extender(url, preempt_verb="preempt", node_cache_capable=True)
    assert cached.process_preemption(pod, {"foo": [victim]}, {"foo": 1}) == {"foo": [victim]}
    meta = '"NodeNameToMetaVictims":{"foo":{"Pods":[{"UID":"myuid"}],"NumPDBViolations":1}}'
    assert script.sent("preempt")[0].decode() == (
        '{"Pod":' + GOLDEN_POD + ',"NodeNameToVictims":null,' + meta + "}"
    )
    # Without a node cache whole pods go out; the answer's UIDs are looked up among the pods
    # on the node, and the golden victim has no UID: convertPodUIDToPod's error.
    whole = extender(url, preempt_verb="preempt")
    with pytest.raises(ExtenderError, match="UID: myuid.*not found on that node"):
        whole.process_preemption(pod, {"foo": [json.loads(GOLDEN_POD)]}, {"foo": 1})
    victims_only = GOLDEN_PREEMPTION_ARGS.replace(meta, '"NodeNameToMetaVictims":null')
    assert script.sent("preempt")[1].decode() == victims_only
    with pytest.raises(ExtenderError, match="preempt verb is not defined"):
        extender(url).process_preemption(pod, {})


# --- (b) Go's int64 decoding -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "kind"),
    [
        ("7.0", "number 7.0"),
        ("1e1", "number 1e1"),
        ('"7"', "string"),
        ("true", "bool"),
        (str(2**63), f"number {2**63}"),
    ],
)
def test_scores_must_be_int64(server, score, kind):
    url, script = server
    script.answers["prioritize"] = Answer('[{"Host":"a","Score":' + score + "}]")
    with pytest.raises(ExtenderError, match=f"cannot unmarshal {kind} into .*Score of type int64"):
        extender(url, prioritize_verb="prioritize", weight=1).prioritize(
            make_pod("p"), [make_node("a")]
        )


def test_undecodable_answers(server):
    url, script = server
    ext = extender(url, prioritize_verb="prioritize", weight=1, filter_verb="filter")
    pod, nodes = make_pod("p"), [make_node("a")]
    for body in ("", "NaN", '{"Host":"a","Score":1}', "[1]"):
        script.answers["prioritize"] = Answer(body)
        with pytest.raises(ExtenderError):
            ext.prioritize(pod, nodes)
    # Null is a nil list; what follows the first value is never read; unknown keys are ignored.
    script.answers["prioritize"] = Answer("null")
    assert ext.prioritize(pod, nodes) == ({}, 1)
    script.answers["prioritize"] = Answer(' [{"host":"a","SCORE":-2,"x":1}] trailing')
    assert ext.prioritize(pod, nodes) == ({"a": -2}, 1)
    script.answers["filter"] = Answer('{"FailedNodes":{"a":7}}')
    with pytest.raises(ExtenderError, match="cannot unmarshal number 7 into .*FailedNodes"):
        ext.filter(pod, nodes)


# --- (c) nodeCacheCapable ----------------------------------------------------------------------


def test_node_cache_capable_both_ways(server):
    url, script = server
    nodes = [make_node(n) for n in ("a", "b", "c")]
    pod = make_pod("p")
    script.answers["filter"] = Answer('{"NodeNames":["c","a"],"Nodes":null}')
    cached = extender(url, filter_verb="filter", node_cache_capable=True)
    assert cached.filter(pod, nodes)[0] == [nodes[2], nodes[0]]
    sent = json.loads(script.sent("filter")[-1])
    assert sent["Nodes"] is None and sent["NodeNames"] == ["a", "b", "c"]
    # A node-cache-capable extender that answers a NodeList (NodeNames null) is read from it.
    script.answers["filter"] = Answer('{"Nodes":{"items":[{"metadata":{"name":"b"}}]}}')
    assert cached.filter(pod, nodes)[0] == [nodes[1]]

    whole = extender(url, filter_verb="filter")
    assert whole.filter(pod, nodes)[0] == [nodes[1]]
    sent = json.loads(script.sent("filter")[-1])
    assert sent["NodeNames"] is None and sent["Nodes"] == {"metadata": {}, "items": nodes}
    # A NodeList answer to the whole-node extender ignores NodeNames; both null: none pass.
    script.answers["filter"] = Answer('{"NodeNames":["a"],"Nodes":null}')
    assert whole.filter(pod, nodes) == ([], {}, {})

    script.answers["filter"] = Answer('{"NodeNames":["a","zz"]}')
    with pytest.raises(ExtenderError, match="claims a filtered node 'zz'"):
        cached.filter(pod, nodes)
    script.answers["filter"] = Answer('{"Nodes":{"items":[{"metadata":{"name":"zz"}}]}}')
    with pytest.raises(ExtenderError, match="claims a filtered node 'zz'"):
        whole.filter(pod, nodes)


# --- (d) failures, timeouts, ignorable extenders -----------------------------------------------


def test_transport_failures(server):
    url, script = server
    ext = extender(url, filter_verb="filter", timeout=0.2)
    pod, nodes = make_pod("p"), [make_node("a")]
    script.answers["filter"] = Answer('{"NodeNames":["a"]}', delay=0.6)
    start = time.perf_counter()
    with pytest.raises(ExtenderError):
        ext.filter(pod, nodes)
    assert time.perf_counter() - start < 0.5
    script.answers["filter"] = Answer("{}", status=500)
    with pytest.raises(ExtenderError, match="failed filter with extender at URL .*, code 500"):
        ext.filter(pod, nodes)
    with pytest.raises(ExtenderError):  # nothing listens there
        extender("http://127.0.0.1:9", filter_verb="filter", timeout=0.2).filter(pod, nodes)
    assert len(ext.latency["filter"]) == 2


def test_scheduler_skips_ignorable_extenders_and_fails_on_the_others(server):
    url, script = server
    script.answers["filter"] = Answer('{"Error":"no capacity"}')
    nodes = [make_node("a"), make_node("b")]
    ignorable = extender(url, filter_verb="filter", ignorable=True)
    scheduler = ClusterScheduler(nodes, [ignorable])
    assert scheduler.schedule(make_pod("p1", {"cpu": "1"})) in {"a", "b"}

    scheduler = ClusterScheduler(nodes, [extender(url, filter_verb="filter")])
    assert scheduler.schedule(make_pod("p1", {"cpu": "1"})) is None
    assert scheduler.last_status == "no capacity" and scheduler.bound == {}

    # An extender that fails every node: its messages are the FitError's reasons.
    script.answers["filter"] = Answer(
        '{"NodeNames":[],"FailedNodes":{"a":"busy","b":"busy"},'
        '"FailedAndUnresolvableNodes":{"b":"gone"}}'
    )
    scheduler = ClusterScheduler(
        nodes, [extender(url, filter_verb="filter", node_cache_capable=True)]
    )
    assert scheduler.schedule(make_pod("p1", {"cpu": "1"})) is None
    assert scheduler.last_status == "0/2 nodes are available: 1 busy, 1 gone."


def test_extenders_see_only_pods_with_their_managed_resources(server):
    url, script = server
    script.answers["filter"] = Answer('{"NodeNames":["b"]}')
    gpu = extender(
        url, filter_verb="filter", node_cache_capable=True, managed_resources=("example.com/gpu",)
    )
    nodes = [make_node("a"), make_node("b")]
    nodes[1]["status"]["allocatable"]["example.com/gpu"] = "2"
    scheduler = ClusterScheduler(nodes, [gpu])
    assert scheduler.schedule(make_pod("cpu-only", {"cpu": "1"})) in {"a", "b"}
    assert script.sent("filter") == []
    limited = make_pod("gpu")
    limited["spec"]["initContainers"] = [
        {"name": "i", "resources": {"limits": {"example.com/gpu": "1"}}}
    ]
    assert scheduler.schedule(limited) == "b"
    assert len(script.sent("filter")) == 1


def test_scheduler_config_entries():
    entry = {
        "urlPrefix": "http://x/ext",
        "filterVerb": "filter",
        "prioritizeVerb": "prioritize",
        "weight": 2,
        "httpTimeout": "1m30s",
        "nodeCacheCapable": True,
        "ignorable": True,
        "managedResources": [
            {"name": "example.com/gpu", "ignoredByScheduler": True},
            {"name": "b/c"},
        ],
    }
    config = ExtenderConfig.from_scheduler_config(entry)
    assert (config.http_timeout, config.weight, config.node_cache_capable) == (90.0, 2, True)
    assert config.managed_resources == ("example.com/gpu", "b/c")
    assert config.ignored_by_scheduler == ("example.com/gpu",)
    assert (
        ExtenderConfig.from_scheduler_config({"urlPrefix": "u", "httpTimeout": "0s"}).http_timeout
        == 5.0
    )
    assert [parse_go_duration(d) for d in ("500ms", "1.5s", "2h", "300us", "0")] == [
        0.5,
        1.5,
        7200.0,
        3e-4,
        0.0,
    ]
    with pytest.raises(ValueError):
        parse_go_duration("5")
    with pytest.raises(ValueError, match="weight"):
        ExtenderConfig(url_prefix="u", prioritize_verb="p")
    with pytest.raises(ValueError, match="only one extender can implement bind"):
        ClusterScheduler([], [extender("u", bind_verb="b"), extender("v", bind_verb="b")])


# --- (e) scoring with extenders ----------------------------------------------------------------

# a: LeastAllocated (75 + 87) / 2 = 81, Balanced (1 - |0.25 - 0.125| / 2) * 100 = 93 -> 174
# b: LeastAllocated (50 + 87) / 2 = 68, Balanced (1 - |0.5 - 0.125| / 2) * 100 = 81  -> 149
SCORED_NODES = [make_node("a", "4", "8Gi"), make_node("b", "2", "8Gi")]
SCORED_POD = {"cpu": "1", "memory": "1Gi"}


@pytest.mark.parametrize(
    ("score", "weight", "winner"), [(2, 1, "a"), (3, 1, "b"), (1, 3, "b"), (0, 5, "a")]
)
def test_final_score_adds_extender_score_times_weight_times_ten(server, score, weight, winner):
    url, script = server
    script.answers["prioritize"] = Answer(
        f'[{{"Host":"b","Score":{score}}},{{"Host":"zz","Score":9}}]'
    )
    scheduler = ClusterScheduler(
        SCORED_NODES, [extender(url, prioritize_verb="prioritize", weight=weight)]
    )
    pod = make_pod("p", SCORED_POD)
    assert scheduler.plugin_scores(pod) == {
        LEAST_ALLOCATED: {"a": 81, "b": 68},
        BALANCED_ALLOCATION: {"a": 93, "b": 81},
    }
    assert scheduler.schedule(pod) == winner
    assert names(script.sent("prioritize")[0]) is None  # a NodeList went out


def test_prioritize_errors_are_ignored(server):
    url, script = server
    script.answers["prioritize"] = Answer('[{"Host":"b","Score":9.0}]')
    scheduler = ClusterScheduler(
        SCORED_NODES, [extender(url, prioritize_verb="prioritize", weight=9)]
    )
    assert scheduler.schedule(make_pod("p", SCORED_POD)) == "a"


def test_prioritize_is_skipped_for_a_single_feasible_node(server):
    url, script = server
    script.answers["prioritize"] = Answer('[{"Host":"a","Score":10}]')
    nodes = [make_node("a", "4"), make_node("b", "1")]
    scheduler = ClusterScheduler(nodes, [extender(url, prioritize_verb="prioritize", weight=1)])
    assert scheduler.schedule(make_pod("p", {"cpu": "2"})) == "a"
    assert script.sent("prioritize") == []
    assert scheduler.schedule(make_pod("q", {"cpu": "500m"})) in {"a", "b"}
    assert len(script.sent("prioritize")) == 1


def test_ties_are_broken_at_random_and_reproducibly():
    nodes = [make_node(n) for n in "abcd"]
    picks = {ClusterScheduler(nodes, seed=seed).schedule(make_pod("p")) for seed in range(40)}
    assert picks == set("abcd")
    first = [ClusterScheduler(nodes, seed=7).schedule(make_pod("p")) for _ in range(3)]
    assert len(set(first)) == 1


def test_binder_extender_binds_and_a_failed_bind_frees_the_node(server):
    url, script = server
    script.answers["bind"] = Answer('{"Error":""}')
    binder = extender(url, bind_verb="bind")
    scheduler = ClusterScheduler([make_node("a", "2")], [binder])
    assert scheduler.schedule(make_pod("p1", {"cpu": "1"})) == "a"
    assert json.loads(script.sent("bind")[0]) == {
        "PodName": "p1",
        "PodNamespace": "default",
        "PodUID": "p1",
        "Node": "a",
    }
    script.answers["bind"] = Answer('{"Error":"conflict"}')
    assert scheduler.schedule(make_pod("p2", {"cpu": "1"})) is None
    assert scheduler.last_status == "conflict" and scheduler.bound == {"p1": "a"}
    script.answers["bind"] = Answer("{}")
    assert scheduler.schedule(make_pod("p3", {"cpu": "1"})) == "a"  # p2's cpu was given back


def test_extenders_see_the_adaptive_share_of_a_large_cluster(server):
    """numFeasibleNodesToFind: 1,000 nodes -> 50 - 1000/125 = 42 % = 420, round robin."""
    url, script = server
    script.answers["filter"] = lambda args: Answer(json.dumps({"NodeNames": args["NodeNames"][:1]}))
    nodes = [make_node(f"n{i:04}") for i in range(1000)]
    scheduler = ClusterScheduler(
        nodes, [extender(url, filter_verb="filter", node_cache_capable=True)]
    )
    assert scheduler.schedule(make_pod("p1")) == "n0000"
    assert scheduler.schedule(make_pod("p2")) == "n0420"
    first, second = (names(body) for body in script.sent("filter"))
    assert (len(first), first[-1], second[0]) == (420, "n0419", "n0420")


# --- (f) NodeResourcesFit and the score plugins ------------------------------------------------


def _fits(pods: list[dict], node: dict, pod: dict) -> bool:
    """An independent NodeResourcesFit: sums of pod_requests against allocatable."""
    allocatable = node["status"]["allocatable"]
    if len(pods) + 1 > int(allocatable["pods"]):
        return False
    for name in ("cpu", "memory"):
        used = sum(pod_requests(p).get(name, 0.0) for p in pods)
        wanted = pod_requests(pod).get(name, 0.0)
        if wanted > 0 and used + wanted > parse_quantity(allocatable[name], name) + 1e-9:
            return False
    return True


# Sizes on one grid, so that pods often fill a node exactly or miss it by one step.
_node_cpu = st.sampled_from(["0", "500m", "1", "2"])
_node_memory = st.sampled_from(["0", "512Mi", "1Gi", "2Gi"])
_requests = st.fixed_dictionaries(
    {},
    optional={
        "cpu": st.sampled_from(["0", "100m", "250m", "500m", "1"]),
        "memory": st.sampled_from(["0", "128Mi", "256Mi", "512Mi", "1Gi"]),
    },
)


@settings(
    max_examples=80, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    nodes=st.lists(st.tuples(_node_cpu, _node_memory, st.integers(0, 12)), min_size=1, max_size=3),
    pods=st.lists(st.tuples(st.lists(_requests, max_size=3), st.booleans()), max_size=20),
    seed=st.integers(0, 3),
)
def test_a_pod_never_lands_on_a_node_without_room(nodes, pods, seed):
    cluster = [make_node(f"n{i}", cpu, mem, slots) for i, (cpu, mem, slots) in enumerate(nodes)]
    scheduler = ClusterScheduler(cluster, seed=seed)
    placed: dict[str, list[dict]] = {n["metadata"]["name"]: [] for n in cluster}
    for index, (containers, finish_one) in enumerate(pods):
        pod = make_pod(f"p{index}", *containers)
        room = [n for n in cluster if _fits(placed[n["metadata"]["name"]], n, pod)]
        chosen = scheduler.schedule(pod)
        if chosen is None:
            assert room == [], scheduler.last_status
        else:
            assert any(n["metadata"]["name"] == chosen for n in room)
            placed[chosen].append(pod)
        if finish_one and scheduler.bound:
            uid = sorted(scheduler.bound)[0]
            scheduler.remove_pod(uid)
            placed = {k: [p for p in v if p["metadata"]["uid"] != uid] for k, v in placed.items()}


def test_fit_reasons_match_fit_go():
    nodes = [
        make_node("a", "1", "1Gi", pods=0),
        make_node("b", "1", "1Gi"),
        make_node("c", "4", "4Gi"),
    ]
    scheduler = ClusterScheduler(nodes)
    assert (
        scheduler.schedule(make_pod("p", {"cpu": "2", "memory": "2Gi", "example.com/x": "1"}))
        is None
    )
    assert scheduler.last_status == (
        "0/3 nodes are available: 1 Too many pods, 2 Insufficient cpu, 2 Insufficient memory, "
        "3 Insufficient example.com/x."
    )


# Node and pod shapes of least_allocated_test.go TestLeastAllocatedScoringStrategy: node
# capacities in cores and bytes; the requested pod has containers {cpu 1000, memory 2000} and
# {cpu 2000, memory 3000}.
_TWO_CONTAINERS = ({"cpu": "1000", "memory": "2000"}, {"cpu": "2000", "memory": "3000"})


@pytest.mark.parametrize(
    ("case", "nodes", "existing", "pod", "expected"),
    [
        ("nothing scheduled, nothing requested", [("4000", "10000")] * 2, [], (), [100, 100]),
        (
            "nothing scheduled, resources requested, differently sized nodes",
            [("4000", "10000"), ("6000", "10000")],
            [],
            _TWO_CONTAINERS,
            [37, 50],
        ),
        (
            "no resources requested, pods scheduled",
            [("4000", "10000")] * 2,
            [(0, None), (0, None), (1, None), (1, None)],
            (),
            [100, 100],
        ),
        (
            "no resources requested, pods scheduled with resources",
            [("10000", "20000")] * 2,
            [(0, ("3000", "0")), (0, ("3000", "0")), (1, ("3000", "0")), (1, ("3000", "5000"))],
            (),
            [70, 57],
        ),
        (
            "resources requested, pods scheduled with resources",
            [("10000", "20000")] * 2,
            [(0, ("3000", "0")), (1, ("3000", "5000"))],
            _TWO_CONTAINERS,
            [57, 45],
        ),
        (
            "resources requested, pods scheduled with resources, differently sized nodes",
            [("10000", "20000"), ("10000", "50000")],
            [(0, ("3000", "0")), (1, ("3000", "5000"))],
            _TWO_CONTAINERS,
            [57, 60],
        ),
        (
            "requested resources exceed node capacity",
            [("4000", "10000")] * 2,
            [(0, ("3000", "0")), (1, ("3000", "5000"))],
            ({"cpu": "3000", "memory": "0"},),
            [50, 25],
        ),
        (
            "zero node resources, pods scheduled with resources",
            [("0", "0")] * 2,
            [(0, ("3000", "0")), (1, ("3000", "5000"))],
            (),
            [0, 0],
        ),
    ],
)
def test_least_allocated_matches_the_go_unit_test(case, nodes, existing, pod, expected):
    scheduler = ClusterScheduler(
        [make_node(f"node{i + 1}", cpu, mem) for i, (cpu, mem) in enumerate(nodes)],
        scoring=[(LEAST_ALLOCATED, 1)],
    )
    _place(scheduler, existing)
    scores = scheduler.plugin_scores(make_pod("incoming", *pod))[LEAST_ALLOCATED]
    assert [scores["node1"], scores["node2"]] == expected, case


def _place(scheduler: ClusterScheduler, existing: list[tuple[int, tuple[str, str] | None]]) -> None:
    for index, (node, requests) in enumerate(existing):
        containers = () if requests is None else ({"cpu": requests[0], "memory": requests[1]},)
        scheduler.add_bound_pod(make_pod(f"existing{index}", *containers), f"node{node + 1}")


# balanced_allocation_test.go TestNodeResourcesBalancedAllocation: makeNode(name, milliCPU,
# memory); cpuOnly = {1000m, 0} + {2000m, 0}; cpuAndMemory = {1000m, 2000} + {2000m, 3000}.
_CPU_ONLY = ({"cpu": "1000m", "memory": "0"}, {"cpu": "2000m", "memory": "0"})
_CPU_AND_MEMORY = ({"cpu": "1000m", "memory": "2000"}, {"cpu": "2000m", "memory": "3000"})


@pytest.mark.parametrize(
    ("case", "nodes", "pod", "expected"),
    [
        (
            "nothing scheduled, resources requested, differently sized nodes",
            [("4000m", "10000"), ("6000m", "10000")],
            _CPU_AND_MEMORY,
            [87, 100],
        ),
        (
            "resources requested, pods scheduled with resources",
            [("10000m", "20000"), ("10000m", "20000")],
            _CPU_AND_MEMORY,
            [82, 95],
        ),
        (
            "resources requested, pods scheduled with resources, differently sized nodes",
            [("10000m", "20000"), ("10000m", "50000")],
            _CPU_AND_MEMORY,
            [82, 80],
        ),
        (
            "requested resources at node capacity",
            [("6000m", "10000"), ("6000m", "10000")],
            _CPU_ONLY,
            [50, 75],
        ),
    ],
)
def test_balanced_allocation_matches_the_go_unit_test(case, nodes, pod, expected):
    scheduler = ClusterScheduler(
        [make_node(f"node{i + 1}", cpu, mem) for i, (cpu, mem) in enumerate(nodes)],
        scoring=[(BALANCED_ALLOCATION, 1)],
    )
    if case != "nothing scheduled, resources requested, differently sized nodes":
        # pods: cpuOnly on node1, cpuAndMemory on node2 (their spec.nodeName).
        scheduler.add_bound_pod(make_pod("cpu-only", *_CPU_ONLY), "node1")
        scheduler.add_bound_pod(make_pod("cpu-and-memory", *_CPU_AND_MEMORY), "node2")
    scores = scheduler.plugin_scores(make_pod("incoming", *pod))[BALANCED_ALLOCATION]
    assert [scores["node1"], scores["node2"]] == expected, case
    # "nothing scheduled, nothing requested, skip in PreScore": best-effort pods are not scored.
    assert scheduler.plugin_scores(make_pod("best-effort"))[BALANCED_ALLOCATION] == {}


def test_scoring_counts_missing_requests_as_100m_and_200mi():
    """NonZero requests (schedutil): a container without a cpu/memory request weighs 100m/200Mi
    in LeastAllocated; an explicit zero stays zero."""
    scheduler = ClusterScheduler(
        [make_node("node1", "1", "1000Mi")], scoring=[(LEAST_ALLOCATED, 1)]
    )
    scores = scheduler.plugin_scores
    # (1000 - 100) * 100 / 1000 = 90 and (1000 - 200) * 100 / 1000 = 80 -> 85
    assert scores(make_pod("p", {}))[LEAST_ALLOCATED] == {"node1": 85}
    assert scores(make_pod("p", {"cpu": "0", "memory": "0"}))[LEAST_ALLOCATED] == {"node1": 100}
    # 0.1 + 0.2 cores are 300m (70), not 301m (69); two containers default to 400Mi (60)
    assert scores(make_pod("p", {"cpu": "0.1"}, {"cpu": "0.2"}))[LEAST_ALLOCATED] == {"node1": 65}
