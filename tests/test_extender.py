"""The Kubernetes scheduler extender over real HTTP on 127.0.0.1: verbs, errors, plans, TLS."""

from __future__ import annotations

import json

import numpy as np
import pytest
import requests
import trustme
from extender_helpers import node, pod, running_extender, wait_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qsched.model.evaluate import evaluate
from qsched.model.problem import Problem
from qsched.service.extender import wire
from qsched.service.extender.batch import Batch, allocation_problem
from qsched.service.extender.cluster import ClusterCache
from qsched.service.extender.mapping import node_machine, pod_task
from qsched.service.extender.plan import NodeModel, Weights, marginal_costs, scores
from qsched.service.extender.planner import PlannerSettings
from qsched.service.extender.server import ssl_context
from qsched.service.extender.settings import ExtenderSettings
from qsched.testing.fake_apiserver import FakeApiServer

FAST = ExtenderSettings(planner=PlannerSettings(batch_window=0.05, solve_seconds=0.5))
JSON = {"Content-Type": "application/json"}


def post(url: str, verb: str, body: object) -> requests.Response:
    data = json.dumps(body)
    return requests.post(f"{url}/scheduler/{verb}", data=data, headers=JSON, timeout=5)


@pytest.fixture(scope="module")
def extender():
    with running_extender(FAST) as running:
        yield running


def test_filter_keeps_the_nodes_with_room_in_both_node_cache_modes(extender) -> None:
    url, _ = extender
    nodes = [node("small", cpu="1"), node("big", cpu="8")]
    full = post(
        url, "filter", {"Pod": pod("f1", cpu="2"), "Nodes": {"items": nodes}, "NodeNames": None}
    )
    assert full.status_code == 200
    answer = full.json()
    assert list(answer) == [
        "Nodes",
        "NodeNames",
        "FailedNodes",
        "FailedAndUnresolvableNodes",
        "Error",
    ]
    assert [n["metadata"]["name"] for n in answer["Nodes"]["items"]] == ["big"]
    assert answer["NodeNames"] is None
    assert answer["FailedNodes"] == {"small": "Insufficient cpu"}
    # nodeCacheCapable: names in, names out, Nodes null.
    cached = post(
        url, "filter", {"Pod": pod("f1", cpu="2"), "Nodes": None, "NodeNames": ["small", "big"]}
    )
    assert cached.json()["Nodes"] is None
    assert cached.json()["NodeNames"] == ["big"]


def test_keys_are_read_as_go_reads_them(extender) -> None:
    """Go matches field names case-insensitively and ignores unknown keys."""
    url, _ = extender
    body = {"pod": pod("g1"), "nodenames": ["big"], "Extra": 1}
    assert post(url, "filter", body).json()["NodeNames"] == ["big"]


def test_prioritize_scores_are_integers_in_range_with_ten_for_the_planned_node(extender) -> None:
    url, service = extender
    names = [f"p{i}" for i in range(6)]
    nodes = [
        node(n, cpu="4", **{"qsched.io/server-model": m})
        for n, m in zip(names, MODELS, strict=True)
    ]
    post(url, "filter", {"Pod": pod("p-pod"), "Nodes": {"items": nodes}, "NodeNames": None})
    wait_for(
        lambda: (
            (plan := service.planner.current(service.extender.cluster.nodes())) is not None
            and "p-pod" in plan.node_of
        )
    )
    raw = requests.post(
        f"{url}/scheduler/prioritize",
        data=json.dumps({"Pod": pod("p-pod"), "Nodes": None, "NodeNames": names}),
        headers=JSON,
        timeout=5,
    ).text
    assert "." not in raw  # int64 on the Go side: a 7.0 would not decode
    answer = json.loads(raw)
    assert [entry["Host"] for entry in answer] == names
    by_host = {entry["Host"]: entry["Score"] for entry in answer}
    assert all(
        wire.MIN_EXTENDER_PRIORITY <= s <= wire.MAX_EXTENDER_PRIORITY for s in by_host.values()
    )
    planned = service.planner.current(service.extender.cluster.nodes()).node_of["p-pod"]
    assert by_host[planned] == 10
    assert sorted(by_host.values()).count(10) == 1


MODELS = [
    "hp-proliant-ml110-g3",
    "hp-proliant-ml110-g4",
    "hp-proliant-ml110-g5",
    "ibm-x3250-xeon-x3470",
    "ibm-x3550-xeon-x5670",
    "ibm-x3550-xeon-x5675",
]


def test_http_rules(extender) -> None:
    url, _ = extender
    assert requests.get(f"{url}/scheduler/filter", timeout=5).status_code == 405
    plain = requests.post(
        f"{url}/scheduler/filter", data=b"{}", headers={"Content-Type": "text/plain"}, timeout=5
    )
    assert plain.status_code == 415
    assert requests.get(f"{url}/healthz", timeout=5).text == "ok"
    assert (
        requests.get(f"{url}/version", timeout=5).json()["api"]
        == "k8s.io/kube-scheduler/extender/v1"
    )
    wait_for(lambda: requests.get(f"{url}/readyz", timeout=5).status_code == 200)
    metrics = requests.get(f"{url}/metrics", timeout=5).text
    assert 'qsched_extender_requests_total{code="415",path="/scheduler/filter"}' in metrics
    # No bind verb unless --bind: the route does not exist.
    assert post(url, "bind", {}).status_code == 404


def test_malformed_bodies_get_a_clear_error_never_a_traceback(extender) -> None:
    url, _ = extender
    broken = requests.post(f"{url}/scheduler/filter", data=b"{not json", headers=JSON, timeout=5)
    assert broken.status_code == 200 and "not JSON" in broken.json()["Error"]
    no_pod = post(url, "filter", {"NodeNames": ["a"]}).json()
    assert no_pod["Error"] == "Pod: is required"
    bad_cpu = pod("bad")
    bad_cpu["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "lots"
    answer = post(url, "filter", {"Pod": bad_cpu, "NodeNames": ["a"]}).json()
    assert answer["Error"].startswith("spec.containers[0].resources.requests.cpu:")
    assert post(url, "prioritize", {"Pod": bad_cpu, "NodeNames": ["a"]}).json() == []
    assert post(url, "preempt", {"Pod": None}).status_code == 400


def test_the_body_limit_is_enforced() -> None:
    with running_extender(ExtenderSettings(max_body=1024)) as (url, _):
        big = {"Pod": pod("x"), "NodeNames": ["n" * 100] * 100}
        assert post(url, "filter", big).status_code == 413


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = st.sampled_from(
    ["Pod", "Nodes", "NodeNames", "NodeNameToVictims", "NodeNameToMetaVictims", "PodUID", "Node"]
)


@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    verb=st.sampled_from(["filter", "prioritize", "preempt"]),
    body=st.dictionaries(FIELDS, JSON_VALUES, max_size=4) | JSON_VALUES,
)
def test_hostile_bodies_are_answered_in_the_verbs_own_shape(extender, verb, body) -> None:
    url, _ = extender
    response = post(url, verb, body)
    if verb == "prioritize":
        assert response.status_code == 200 and isinstance(response.json(), list)
    elif verb == "filter":
        assert response.status_code == 200
        assert set(response.json()) == {
            "Nodes",
            "NodeNames",
            "FailedNodes",
            "FailedAndUnresolvableNodes",
            "Error",
        }
    else:
        assert response.status_code in (200, 400)
        if response.status_code == 200:
            assert set(response.json()) == {"NodeNameToMetaVictims"}


def test_preempt_keeps_the_nodes_where_evicting_the_victims_makes_room() -> None:
    with running_extender(FAST) as (url, service):
        cluster = service.extender.cluster
        cluster.replace(
            [node("a", cpu="2"), node("b", cpu="2")],
            [
                pod("small", cpu="500m", node_name="a"),
                pod("kept", cpu="1", node_name="a"),
                pod("large", cpu="2", node_name="b"),
            ],
        )
        victims = {
            "a": {"Pods": [{"UID": "small"}], "NumPDBViolations": 0},
            "b": {"Pods": [{"UID": "large"}], "NumPDBViolations": 1},
        }
        answer = post(url, "preempt", {"Pod": pod("p", cpu="2"), "NodeNameToMetaVictims": victims})
        assert answer.json() == {
            "NodeNameToMetaVictims": {"b": {"Pods": [{"UID": "large"}], "NumPDBViolations": 1}}
        }


def test_tls_with_a_certificate_made_in_the_test(tmp_path) -> None:
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    cert, key, ca = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    certificate.cert_chain_pems[0].write_to_path(cert)
    certificate.private_key_pem.write_to_path(key)
    authority.cert_pem.write_to_path(ca)
    with running_extender(FAST, ssl_context(str(cert), str(key))) as (url, _):
        assert url.startswith("https://")
        assert requests.get(f"{url}/healthz", verify=str(ca), timeout=5).text == "ok"
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{url}/healthz", timeout=5)  # not trusted without the test CA
    with pytest.raises(ValueError, match="go together"):
        ssl_context(str(cert), None)


def test_a_node_change_voids_the_plan() -> None:
    with running_extender(FAST) as (url, service):
        post(
            url,
            "filter",
            {"Pod": pod("v1"), "Nodes": {"items": [node("a"), node("b")]}, "NodeNames": None},
        )
        planner, cluster = service.planner, service.extender.cluster
        wait_for(lambda: planner.current(cluster.nodes()) is not None)
        cluster.node_changed(node("a", cpu="2"))
        assert planner.current(cluster.nodes()) is None
        wait_for(lambda: planner.current(cluster.nodes()) is not None)  # and a new one is made


def test_marginal_cost_is_the_difference_of_two_evaluations() -> None:
    """The cost prioritize ranks by is qsched's objective growth, computed by the one evaluator."""
    rng = np.random.default_rng(3)
    machines = tuple(
        node_machine(
            node(f"m{j}", cpu="64", memory="256Gi", **{"qsched.io/server-model": MODELS[j]})
        )
        for j in range(6)
    )
    cluster = ClusterCache("qsched")
    cluster.replace(
        [
            node(m.name, cpu="64", memory="256Gi", **{"qsched.io/server-model": MODELS[j]})
            for j, m in enumerate(machines)
        ],
        [],
    )
    nodes = cluster.nodes()
    tasks = [pod_task(pod(f"t{i}", work_seconds=float(rng.integers(10, 500)))) for i in range(12)]
    weights = Weights(1.0, 250.0)
    problem = Problem.from_message(allocation_problem(Batch.of(tasks, nodes, weights)))
    assignment = rng.integers(0, 5, size=len(tasks))  # node 5 stays off
    before = evaluate(problem, assignment)
    newcomer = pod_task(pod("new", work_seconds=77.0))
    with_new = Problem.from_message(
        allocation_problem(Batch.of([*tasks, newcomer], nodes, weights))
    )
    model = NodeModel.of(nodes.machines)
    rows = np.arange(len(nodes.machines))
    costs = marginal_costs(newcomer, model, rows, before.busy, model.fastest, weights)
    for m in rows:
        after = evaluate(with_new, np.append(assignment, m))
        assert costs[m] == pytest.approx(after.objective - before.objective, rel=1e-9)


def test_scores_rank_by_cost_and_give_the_plan_ten() -> None:
    costs = np.array([5.0, 1.0, 3.0, 9.0])
    assert scores(costs, None).tolist() == [4, 9, 7, 0]
    assert scores(costs, np.array([False, False, False, True])).tolist() == [4, 9, 7, 10]
    assert scores(np.array([2.0, 2.0]), None).tolist() == [9, 9]


def test_bind_creates_the_binding_through_the_api_server_and_watches_the_cluster(tmp_path) -> None:
    """--bind with a kubeconfig: the official client against a fake API server on loopback."""
    api = FakeApiServer()
    api.start()
    try:
        api.add_node(node("a", cpu="2"))
        api.add_node(node("b", cpu="2"))
        api.add_pod(pod("running", cpu="2", node_name="a"))
        api.add_pod(pod("waiting", cpu="1"))
        kubeconfig = str(api.kubeconfig(tmp_path / "kubeconfig"))
        settings = ExtenderSettings(bind=True, kubeconfig=kubeconfig, planner=FAST.planner)
        with running_extender(settings) as (url, service):
            cluster = service.extender.cluster
            wait_for(lambda: service.watch.synced.is_set() and cluster.pending_count() == 1)
            # The watch counts the running pod on a: it no longer fits there.
            answer = post(url, "filter", {"Pod": pod("waiting", cpu="1"), "NodeNames": ["a", "b"]})
            assert answer.json()["NodeNames"] == ["b"]
            wait_for(
                lambda: (
                    (plan := service.planner.current(cluster.nodes())) is not None
                    and plan.node_of.get("waiting") == "b"
                )
            )
            binding = {
                "PodName": "pod-waiting",
                "PodNamespace": "default",
                "PodUID": "waiting",
                "Node": "b",
            }
            assert post(url, "bind", binding).json() == {"Error": ""}
            assert {p["metadata"]["uid"]: p["spec"].get("nodeName") for p in api.pods()}[
                "waiting"
            ] == "b"
            assert cluster.bound_node("waiting") == "b" and cluster.pending_count() == 0
            planned = 'qsched_extender_bindings_total{outcome="planned"} 1.0'
            wait_for(lambda: planned in requests.get(f"{url}/metrics", timeout=5).text)
            again = post(url, "bind", binding).json()["Error"]
            assert "pod-waiting" in again  # the API server's conflict, passed on
            missing = post(url, "bind", binding | {"PodName": "nope", "PodUID": "nope"}).json()[
                "Error"
            ]
            assert missing.startswith("binding default/nope:")
    finally:
        api.stop()


def test_filter_checks_only_what_the_pod_requests(extender) -> None:
    """As NodeResourcesFit: a node already over its cpu still takes a pod that asks for none."""
    url, service = extender
    service.extender.cluster.replace(
        [node("over", cpu="1")], [pod("hog", cpu="2", node_name="over")]
    )
    memory_only = pod("m1", cpu="0", memory="1Gi")
    assert post(url, "filter", {"Pod": memory_only, "NodeNames": ["over"]}).json()["NodeNames"] == [
        "over"
    ]
    assert (
        post(url, "filter", {"Pod": pod("c1", cpu="1"), "NodeNames": ["over"]}).json()["NodeNames"]
        == []
    )


def test_a_deleted_pod_is_not_revived_by_a_late_filter_call(extender) -> None:
    url, service = extender
    cluster = service.extender.cluster
    cluster.replace([node("a")], [pod("gone")])
    assert cluster.pending_count() == 1
    cluster.pod_deleted("gone")
    post(url, "filter", {"Pod": pod("gone"), "NodeNames": ["a"]})
    assert cluster.pending_count() == 0


def test_pods_a_problem_refuses_are_left_out_and_the_others_planned() -> None:
    """A pod whose runtime overflows on a node (work 1e308 on a speed-0.001 node) is named by
    the problem's validation; the planner plans the rest without it."""
    slow = node("slow")
    slow["metadata"]["annotations"] = {"qsched.io/speed": "0.001"}
    with running_extender(FAST) as (_, service):
        cluster, planner = service.extender.cluster, service.planner
        cluster.replace([slow, node("fast")], [pod("huge", work_seconds=1e308), pod("fine")])
        wait_for(
            lambda: (
                (plan := planner.current(cluster.nodes())) is not None and "fine" in plan.node_of
            )
        )
        assert "huge" not in planner.current(cluster.nodes()).node_of
        assert planner.unplanned() == 1


def test_binding_needs_the_watch() -> None:
    with pytest.raises(ValueError, match="--bind needs the API server"):
        running_extender(ExtenderSettings(bind=True)).__enter__()
