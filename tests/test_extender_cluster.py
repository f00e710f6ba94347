"""kube-scheduler's replica driving the real extender: fit, Go decoding, plans, --server."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from extender_helpers import node, pod, running_extender, wait_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qsched.service.extender.planner import PlannerSettings
from qsched.service.extender.resources import pod_requests, scheduler_units
from qsched.service.extender.settings import ExtenderSettings
from qsched.testing.kube_scheduler import (
    DEFAULT_SCORING,
    ClusterScheduler,
    ExtenderConfig,
    HTTPExtender,
)

CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "scheduler-config.yaml"
FAST = PlannerSettings(batch_window=0.05, max_wait=0.2, solve_seconds=0.5)


def deployed_extender(url: str) -> HTTPExtender:
    """The extender as deploy/ configures kube-scheduler to call it, at ``url``."""
    config = yaml.safe_load(yaml.safe_load(CONFIG.read_text())["data"]["config.yaml"])
    entry = config["extenders"][0] | {"urlPrefix": url + "/scheduler"}
    return HTTPExtender(ExtenderConfig.from_scheduler_config(entry))


def fits(pods: list[dict], nodes: list[dict], bound: dict[str, str]) -> bool:
    """Every node's bound requests within its allocatable, counted independently."""
    allocatable = {
        n["metadata"]["name"]: {
            r: scheduler_units(
                r, float(q.removesuffix("Gi")) * 2**30 if q.endswith("Gi") else float(q)
            )
            for r, q in n["status"]["allocatable"].items()
        }
        for n in nodes
    }
    used: dict[str, dict[str, float]] = {name: {} for name in allocatable}
    for p in pods:
        where = bound.get(p["metadata"]["uid"])
        if where is not None:
            for r, amount in pod_requests(p).items():
                used[where][r] = used[where].get(r, 0.0) + scheduler_units(r, amount)
    return all(
        amount <= allocatable[name].get(r, 0.0)
        for name, load in used.items()
        for r, amount in load.items()
    )


CPUS = st.sampled_from(["250m", "500m", "1", "1500m", "2", "3"])


@pytest.fixture(scope="module")
def extender():
    with running_extender(ExtenderSettings(planner=FAST)) as running:
        yield running


@settings(
    max_examples=15,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    node_cpus=st.lists(st.sampled_from(["1", "2", "4"]), min_size=1, max_size=5),
    pod_cpus=st.lists(CPUS, min_size=1, max_size=12),
)
def test_no_pod_is_placed_where_it_does_not_fit(extender, node_cpus, pod_cpus) -> None:
    """The extender's filter alone decides (the replica's own fit check is skipped by giving
    it nodes with room to spare): a node it lets through always has room."""
    url, service = extender
    nodes = [node(f"n{i}", cpu=c, memory="8Gi") for i, c in enumerate(node_cpus)]
    pods = [pod(f"p{i}", cpu=c, memory="512Mi") for i, c in enumerate(pod_cpus)]
    roomy = [node(f"n{i}", cpu="1000", memory="8Gi") for i in range(len(nodes))]
    service.extender.cluster.replace(nodes, [])  # a fresh cluster for each example
    scheduler = ClusterScheduler(roomy, [deployed_extender(url)], DEFAULT_SCORING, seed=0)
    for manifest in pods:
        placed = scheduler.schedule(manifest)
        if placed is not None:  # what the watch would report after the binding
            bound = manifest | {"spec": manifest["spec"] | {"nodeName": placed}}
            service.extender.cluster.pod_changed(bound)
    assert fits(pods, nodes, scheduler.bound)


def test_pods_follow_the_plan_and_every_answer_decodes_as_go_decodes_it() -> None:
    """A wave planned before it is scheduled: every pod goes to its planned node (with the
    deployed weight, 10 x 20 x 10 beats 9 x 20 x 10 plus the resource plugins' 200)."""
    nodes = [
        node(f"n{i}", cpu="8", memory="32Gi", **{"qsched.io/server-model": m})
        for i, m in enumerate(MODELS)
    ]
    pods = [pod(f"w{i}", cpu="1", memory="1Gi", work_seconds=60.0 * (1 + i % 5)) for i in range(12)]
    with running_extender(ExtenderSettings(planner=FAST)) as (url, service):
        cluster, planner = service.extender.cluster, service.planner
        cluster.replace(nodes, pods)
        wait_for(lambda: len(getattr(planner.current(cluster.nodes()), "node_of", ())) == len(pods))
        plan = planner.current(cluster.nodes())
        extender = deployed_extender(url)
        scheduler = ClusterScheduler(
            nodes, [extender], DEFAULT_SCORING, seed=0, percentage_of_nodes_to_score=100
        )
        for manifest in pods:
            placed = scheduler.schedule(manifest)
            assert placed == plan.node_of[manifest["metadata"]["uid"]]
        # Both verbs were called and decoded with Go's rules (the replica raises otherwise).
        assert len(extender.latency["filter"]) == len(extender.latency["prioritize"]) == len(pods)


MODELS = ["hp-proliant-ml110-g3", "ibm-x3250-xeon-x3470", "ibm-x3550-xeon-x5675"]


def test_plans_can_be_solved_on_a_qsched_server(server) -> None:
    """--server: the batch goes to the gRPC service's Solve RPC."""
    settings_ = ExtenderSettings(server=server.address, planner=FAST)
    with running_extender(settings_) as (url, service):
        cluster, planner = service.extender.cluster, service.planner
        cluster.replace(
            [node("a"), node("b", **{"qsched.io/server-model": MODELS[2]})], [pod("r1"), pod("r2")]
        )
        wait_for(lambda: planner.current(cluster.nodes()) is not None)
        plan = planner.current(cluster.nodes())
        assert set(plan.node_of) == {"r1", "r2"} and set(plan.node_of.values()) <= {"a", "b"}
