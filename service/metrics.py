"""Prometheus metrics of the gRPC service (``qsched serve --metrics-listen``).

A registry per server, so that servers in one process (tests) never share counts. Queue
depth and store size are read when Prometheus scrapes, not kept up to date on every change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

#: RPC latency buckets (s): from a refused request to a long solve.
RPC_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
SOLVE_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)


class ServiceMetrics:
    """RPCs, solves, workers, the queue and the store."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._http: Any = None
        self.rpcs = Counter(
            "qsched_rpcs", "RPCs by method and status code.", ["method", "code"],
            registry=self.registry,
        )  # fmt: skip
        self.rpc_seconds = Histogram(
            "qsched_rpc_seconds", "RPC latency by method.", ["method"],
            buckets=RPC_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.solve_seconds = Histogram(
            "qsched_solve_seconds", "Wall time of solves by solver.", ["solver"],
            buckets=SOLVE_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.running = Gauge(
            "qsched_running_solves", "Solves running in worker processes.", registry=self.registry
        )
        self.worker_crashes = Counter(
            "qsched_worker_crashes",
            "Worker processes that died, or were killed for ignoring a stop.",
            ["reason"],
            registry=self.registry,
        )
        self.queued = Gauge(
            "qsched_queued_jobs", "Jobs waiting for a worker.", registry=self.registry
        )
        self.store_bytes = Gauge(
            "qsched_store_bytes", "Size of the job store on disk (with its WAL).",
            registry=self.registry,
        )  # fmt: skip

    def observe_rpc(self, method: str, code: str, seconds: float) -> None:
        self.rpcs.labels(method, code).inc()
        self.rpc_seconds.labels(method).observe(seconds)

    def read_at_scrape(self, queued: Callable[[], float], store_bytes: Callable[[], float]) -> None:
        """Queue depth and store size, computed when scraped."""
        self.queued.set_function(queued)
        self.store_bytes.set_function(store_bytes)

    def serve(self, address: str) -> int:
        """Expose ``/metrics`` on ``host:port`` (port 0: any free one) from a daemon thread;
        returns the port."""
        host, _, port = address.rpartition(":")
        self._http, _ = start_http_server(
            int(port), addr=host.strip("[]") or "127.0.0.1", registry=self.registry
        )
        return int(self._http.server_port)

    def close(self) -> None:
        """Stop serving ``/metrics`` (if it was)."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
