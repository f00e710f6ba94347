"""A simulated cluster: kube-scheduler (replica) with qsched as its extender, against the
default scheduler's own scoring, at 1,000 nodes and 5,000 pods arriving in waves.

    python benchmarks/cluster_simulation.py --nodes 1000 --pods 5000 --waves 5 \\
        --report benchmarks/results/cluster-simulation.md

Everything runs for real on loopback: a fake API server
(`qsched.testing.fake_apiserver`) holds the nodes and pods, the
extender watches it with the official client and answers over HTTP, and the
scheduler replica (`qsched.testing.kube_scheduler`) schedules each
pod as kube-scheduler does (NodeResourcesFit, score plugins, the extender's
filter and prioritize with the deployment's weight and ``nodeCacheCapable``)
and binds it through the API server. The extender runs as ``qsched extender``
in a process of its own, as the sidecar does. Pods of a wave are created at once and
scheduled one after another right away: the scheduler does not wait for a
plan, so the first pods of each wave are placed on the extender's greedy
fallback until the plan lands.

Runs, same nodes, pods and seed:

- ``least-allocated``: NodeResourcesFit's LeastAllocated scoring alone;
- ``balanced-allocation``: NodeResourcesBalancedAllocation alone;
- ``default``: both (the default profile's resource scoring);
- ``qsched``: the default profile plus the qsched extender, configured as
  ``deploy/scheduler-config.yaml`` configures it.

Every final placement is scored by qsched's one evaluator, on one problem
(all bound pods x all nodes, as released at time 0, qsched's objective
weights). Latencies are the replica's wall time per extender call.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import requests
import yaml

from qsched.formats.generate import SERVERS
from qsched.model.evaluate import evaluate
from qsched.model.problem import Problem
from qsched.service.extender.batch import Batch, allocation_problem
from qsched.service.extender.cluster import ClusterCache
from qsched.service.extender.mapping import SERVER_MODEL, WORK_SECONDS, pod_task, slug
from qsched.service.extender.plan import NodeModel, Weights
from qsched.testing.fake_apiserver import FakeApiServer
from qsched.testing.kube_scheduler import (
    BALANCED_ALLOCATION,
    DEFAULT_SCORING,
    LEAST_ALLOCATED,
    ClusterScheduler,
    ExtenderConfig,
    HTTPExtender,
)

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "deploy" / "scheduler-config.yaml"
#: Cores per server model (the SPECpower servers' generations: 2 to 12 cores).
CORES = dict(zip(SERVERS, (2, 2, 4, 4, 4, 12, 12), strict=True))
CPU_REQUESTS = ("250m", "500m", "1", "2")
MEMORY_REQUESTS = ("256Mi", "512Mi", "1Gi", "2Gi")


def cluster_nodes(count: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Mixed servers: each a shipped SPECpower model with its cores and memory."""
    models = rng.choice(sorted(SERVERS), size=count)
    return [
        {
            "metadata": {"name": f"node-{j:04d}", "labels": {SERVER_MODEL: slug(model)}},
            "status": {
                "allocatable": {
                    "cpu": str(CORES[model]),
                    "memory": f"{SERVERS[model][1]}Gi",
                    "pods": "110",
                },
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        }
        for j, model in enumerate(models)
    ]


def workload(count: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Batch pods: log-normal work (median 600 s on a speed-1 server), mixed requests."""
    work = np.round(rng.lognormal(np.log(600.0), 0.8, size=count), 1)
    cpu = rng.choice(CPU_REQUESTS, size=count)
    memory = rng.choice(MEMORY_REQUESTS, size=count)
    return [
        {
            "metadata": {
                "name": f"job-{i:05d}",
                "namespace": "default",
                "uid": f"uid-{i:05d}",
                "annotations": {WORK_SECONDS: str(work[i])},
            },
            "spec": {
                "schedulerName": "qsched",
                "containers": [
                    {
                        "name": "main",
                        "resources": {"requests": {"cpu": cpu[i], "memory": memory[i]}},
                    }
                ],
            },
        }
        for i in range(count)
    ]


@dataclass
class Run:
    name: str
    bound: dict[str, str]
    seconds: float
    latency: dict[str, list[float]]
    plan_ready: list[tuple[float, float]]
    pending: int
    #: Share of prioritize answers that came from a plan (the rest: greedy fallback).
    from_plan: float = float("nan")
    #: Share of pods bound to the node the plan had put them on.
    as_planned: float = float("nan")


def baseline(name: str, scoring: Any, nodes: list, waves: list[list], seed: int) -> Run:
    scheduler = ClusterScheduler(nodes, scoring=scoring, seed=seed)
    started = time.perf_counter()
    pending = sum(scheduler.schedule(p) is None for wave in waves for p in wave)
    return Run(name, dict(scheduler.bound), time.perf_counter() - started, {}, [], pending)


def with_qsched(nodes: list, waves: list[list], seed: int, solve_seconds: float) -> Run:
    config = yaml.safe_load(yaml.safe_load(CONFIG.read_text())["data"]["config.yaml"])
    with FakeApiServer() as api, tempfile.TemporaryDirectory() as scratch:
        for node in nodes:
            api.add_node(node)
        kubeconfig = api.kubeconfig(Path(scratch) / "kubeconfig")
        with extender_process(kubeconfig, seed, solve_seconds) as url:
            entry = config["extenders"][0] | {"urlPrefix": url + "/scheduler"}
            extender = HTTPExtender(ExtenderConfig.from_scheduler_config(entry))
            scheduler = ClusterScheduler(
                nodes,
                [extender],
                DEFAULT_SCORING,
                seed,
                percentage_of_nodes_to_score=config.get("percentageOfNodesToScore", 0),
            )
            started = time.perf_counter()
            pending, plan_ready = 0, []
            for wave in waves:
                first = time.perf_counter()
                for pod in wave:
                    api.add_pod(pod)
                watcher = _PlanWatch(url, first)
                for pod in wave:
                    node = scheduler.schedule(pod)
                    if node is None:
                        pending += 1
                    else:
                        api.bind("default", pod["metadata"]["name"], node)
                plan_ready.append(watcher.result())
            seconds = time.perf_counter() - started
            latency = scheduler.extender_latency
            wait(lambda: _bindings(url) >= len(scheduler.bound), 30)  # the watch caught up
            fallbacks = _metric(url, "qsched_extender_fallback_scores_total")
            run = Run("qsched", dict(scheduler.bound), seconds, latency, plan_ready, pending)
            run.from_plan = 1 - fallbacks / len(latency.get("prioritize", [1]))
            run.as_planned = _bindings(url, "planned") / len(scheduler.bound)
            return run


@contextlib.contextmanager
def extender_process(kubeconfig: Path, seed: int, solve_seconds: float) -> Iterator[str]:
    """`qsched extender` in a process of its own, as the sidecar runs; yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        sys.executable, "-m", "qsched", "extender", "--listen", f"127.0.0.1:{port}",
        "--kubeconfig", str(kubeconfig), "--seed", str(seed),
        "--solve-seconds", str(solve_seconds),
    ]  # fmt: skip
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait(lambda: _get(url + "/readyz") == "ok", 180)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _get(url: str) -> str | None:
    try:
        return requests.get(url, timeout=2).text
    except requests.RequestException:
        return None


def _metric(url: str, name: str) -> float:
    """One sample of the extender's /metrics, labels included in ``name`` (nan when absent)."""
    found = re.search(rf"^{re.escape(name)} (\S+)$", _get(url + "/metrics") or "", re.M)
    return float(found.group(1)) if found else float("nan")


def _bindings(url: str, *outcomes: str) -> float:
    """Bindings the extender saw, of the given outcomes (all when none is given)."""
    return sum(
        np.nan_to_num(_metric(url, f'qsched_extender_bindings_total{{outcome="{outcome}"}}'))
        for outcome in outcomes or ("planned", "off_plan", "unplanned")
    )


class _PlanWatch:
    """Seconds until a plan covers every pending pod (the extender's
    ``qsched_extender_unplanned_pods`` is 0): from the wave's first pod's creation, and from
    its last (when the whole wave exists)."""

    def __init__(self, url: str, first: float) -> None:
        last = time.perf_counter()
        self.ready = (float("nan"), float("nan"))
        self._stop = threading.Event()

        def watch() -> None:
            while not self._stop.wait(0.02):
                if _metric(url, "qsched_extender_unplanned_pods") == 0:
                    now = time.perf_counter()
                    self.ready = (now - first, now - last)
                    return

        self._thread = threading.Thread(target=watch, daemon=True)
        self._thread.start()

    def result(self) -> tuple[float, float]:
        self._stop.set()
        self._thread.join()
        return self.ready


def wait(condition: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the extender did not get ready")
        time.sleep(0.05)


def scored(run: Run, nodes: list, pods: list) -> dict[str, float]:
    """Energy, makespan and utilization of the final placement, by qsched's evaluator."""
    cluster = ClusterCache("qsched")
    cluster.replace(nodes, [])
    arrays = cluster.nodes()
    tasks = [pod_task(p) for p in pods if p["metadata"]["uid"] in run.bound]
    weights = Weights(1.0, float(NodeModel.of(arrays.machines).idle.sum()))
    problem = Problem.from_message(allocation_problem(Batch.of(tasks, arrays, weights)))
    assignment = np.array([arrays.index[run.bound[t.uid]] for t in tasks])
    evaluation = evaluate(problem, assignment)
    return {
        "energy_mj": evaluation.energy / 1e6,
        "makespan_s": evaluation.makespan,
        "utilization": evaluation.utilization,
        "nodes_used": int(evaluation.powered_on.sum()),
        "objective": evaluation.objective,
        "feasible": evaluation.feasible,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=5000)
    parser.add_argument("--waves", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--solve-seconds", type=float, default=1.0)
    parser.add_argument("--report", type=Path)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    nodes = cluster_nodes(args.nodes, rng)
    pods = workload(args.pods, rng)
    waves = [list(w) for w in np.array_split(np.array(pods, dtype=object), args.waves)]
    runs = [
        baseline("least-allocated", ((LEAST_ALLOCATED, 1),), nodes, waves, args.seed),
        baseline("balanced-allocation", ((BALANCED_ALLOCATION, 1),), nodes, waves, args.seed),
        baseline("default", DEFAULT_SCORING, nodes, waves, args.seed),
        with_qsched(nodes, waves, args.seed, args.solve_seconds),
    ]
    one_wave = with_qsched(nodes, [pods], args.seed, args.solve_seconds)
    text = report(runs, one_wave, nodes, pods, args)
    print(text)
    if args.report:
        args.report.write_text(text)
        figure(runs, nodes, pods, args.report.with_suffix(".png"))


HEADER = (
    "| scheduler | energy (MJ) | vs least-allocated | makespan (s) | vs least-allocated "
    "| utilization | nodes on | pending pods | wall (s) |"
)


def report(
    runs: list[Run], one_wave: Run, nodes: list, pods: list, args: argparse.Namespace
) -> str:
    metrics = {run.name: scored(run, nodes, pods) for run in runs}
    base = metrics["least-allocated"]
    command = (
        f"python benchmarks/cluster_simulation.py --nodes {args.nodes} --pods {args.pods} "
        f"--waves {args.waves}"
    )
    lines = [
        "# Cluster simulation: qsched as kube-scheduler's extender",
        "",
        f"{args.nodes} nodes (7 SPECpower server models), {args.pods} pods in {args.waves} "
        f"waves, seed {args.seed}, plan budget {args.solve_seconds} s; `{command}`.",
        "",
        HEADER,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        m = metrics[run.name]
        energy, makespan = m["energy_mj"], m["makespan_s"]
        lines.append(
            f"| {run.name} | {energy:.1f} | {energy / base['energy_mj'] - 1:+.1%} "
            f"| {makespan:.0f} | {makespan / base['makespan_s'] - 1:+.1%} "
            f"| {m['utilization']:.3f} | {m['nodes_used']} | {run.pending} | {run.seconds:.1f} |"
        )
    qsched = next(run for run in runs if run.name == "qsched")
    lines += [
        "",
        f"Extender call latency (the replica's wall time per call, loopback HTTP, {args.nodes} "
        "nodes, `nodeCacheCapable`, the extender in a process of its own):",
        "",
        "| call | calls | p50 (ms) | p99 (ms) | max (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    calls = dict(sorted(qsched.latency.items()))
    filters, priorities = calls.get("filter", []), calls.get("prioritize", [])
    if len(filters) == len(priorities):  # one of each per pod, in order: pair them
        calls["filter + prioritize, per pod"] = list(np.add(filters, priorities))
    for verb, seconds in calls.items():
        ms = np.array(seconds) * 1e3
        p50, p99 = np.percentile(ms, 50), np.percentile(ms, 99)
        lines.append(f"| {verb} | {len(ms)} | {p50:.1f} | {p99:.1f} | {ms.max():.1f} |")
    lines += [
        "",
        "Seconds until one plan covers every pod of a wave still pending, counted from the "
        "wave's first pod's creation / from its last (creating a pod in the fake API server "
        "takes about 0.4 ms): "
        + ", ".join(f"{a:.2f} / {b:.2f}" for a, b in qsched.plan_ready)
        + f"; one wave of all {args.pods} pods: {one_wave.plan_ready[0][0]:.2f} / "
        f"{one_wave.plan_ready[0][1]:.2f} s (kube-scheduler's default httpTimeout is 5 s).",
        "",
        f"Prioritize answers that came from a plan: {qsched.from_plan:.1%}; the rest came "
        "from the greedy fallback while a wave was being planned. Pods bound to the node "
        f"their plan chose: {qsched.as_planned:.1%}.",
        "",
    ]
    return "\n".join(lines)


def figure(runs: list[Run], nodes: list, pods: list, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = {run.name: scored(run, nodes, pods) for run in runs}
    names = list(metrics)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, key, label in zip(
        axes[:2], ("energy_mj", "makespan_s"), ("energy (MJ)", "makespan (s)"), strict=True
    ):
        ax.bar(names, [metrics[n][key] for n in names], color=["#999", "#999", "#999", "#2a7"])
        ax.set_ylabel(label)
        ax.tick_params(axis="x", rotation=20)
    qsched = next(run for run in runs if run.name == "qsched")
    for verb, seconds in sorted(qsched.latency.items()):
        ms = np.sort(np.array(seconds) * 1e3)
        axes[2].plot(ms, np.linspace(0, 1, len(ms)), label=verb)
    axes[2].set_xscale("log")
    axes[2].set_xlabel("extender call (ms)")
    axes[2].set_ylabel("fraction of calls")
    axes[2].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
