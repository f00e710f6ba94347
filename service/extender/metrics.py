"""Prometheus metrics of the extender (`/metrics`), in a registry of its own.

A registry per server rather than the process-wide default, so that two
servers in one process (tests, the cluster simulation) never share counts.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: Latency buckets (s) around the 5 s httpTimeout kube-scheduler gives an extender.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class ExtenderMetrics:
    """Requests by verb and status, their latency, and the planner's state."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "qsched_extender_requests",
            "HTTP requests by path and status code.",
            ["path", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "qsched_extender_request_seconds",
            "Time to answer a verb.",
            ["verb"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "qsched_extender_errors",
            "Verbs answered with an Error (a request qsched could not read or act on).",
            ["verb"],
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "qsched_extender_fallback_scores",
            "Prioritize answers for a pod no current plan covers (greedy marginal cost).",
            registry=self.registry,
        )
        self.bindings = Counter(
            "qsched_extender_bindings",
            "Pods bound, by whether they went where the plan put them (planned), elsewhere "
            "(off_plan) or no plan covered them (unplanned).",
            ["outcome"],
            registry=self.registry,
        )
        self.pending = Gauge(
            "qsched_extender_pending_pods",
            "Pods waiting for this scheduler.",
            registry=self.registry,
        )
        self.unplanned = Gauge(
            "qsched_extender_unplanned_pods",
            "Pending pods the current plan does not cover (answered by the greedy fallback).",
            registry=self.registry,
        )
        self.plans = Counter("qsched_extender_plans", "Plans made.", registry=self.registry)
        self.plan_seconds = Gauge(
            "qsched_extender_last_plan_seconds",
            "Wall time of the last plan (snapshot, problem, solve).",
            registry=self.registry,
        )

    def planned(self, seconds: float) -> None:
        """A plan was made in ``seconds`` (the planner's callback)."""
        self.plans.inc()
        self.plan_seconds.set(seconds)

    def bound(self, outcome: str) -> None:
        """A pod was bound: "planned", "off_plan" or "unplanned" (the planner's callback)."""
        self.bindings.labels(outcome).inc()
