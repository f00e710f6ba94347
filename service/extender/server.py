"""``qsched extender``: wire the cache, the watch, the planner and the HTTP app, and serve."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from aiohttp import web

from qsched.service.extender import wire
from qsched.service.extender.answers import Binder, Extender
from qsched.service.extender.app import Readiness, create_app
from qsched.service.extender.batch import Batch
from qsched.service.extender.cluster import ClusterCache
from qsched.service.extender.metrics import ExtenderMetrics
from qsched.service.extender.plan import Weights
from qsched.service.extender.planner import Planner
from qsched.service.extender.resources import POD_SLOTS
from qsched.service.extender.settings import ExtenderSettings
from qsched.service.extender.solve import Solve, check_solver, process_solve, remote_solve

log = logging.getLogger(__name__)

SWITCH_INTERVAL_SECONDS = 0.001


@dataclass
class ExtenderService:
    """A running extender's parts (the HTTP app is served by the caller or `serve`)."""

    app: web.Application
    extender: Extender
    planner: Planner
    #: The API-server watch (`kube.ClusterWatch`), when there are credentials.
    watch: Any | None
    warm: threading.Event
    #: Shuts the solver's worker process down (None when solving on a server).
    stop_solver: Callable[[], None] | None

    def stop(self) -> None:
        self.planner.stop()
        if self.watch is not None:
            self.watch.stop()
        if self.stop_solver is not None:
            self.stop_solver()


def has_credentials(kubeconfig: str | None) -> bool:
    """Whether the API server was named: ``--kubeconfig``, or a pod's service account.

    Explicit on purpose: a developer's ~/.kube/config never makes a local
    extender watch (and bind in) whatever cluster it happens to point at.
    """
    return bool(kubeconfig) or "KUBERNETES_SERVICE_HOST" in os.environ


#: Eight pods on three nodes: enough to load the solver and its compiled kernels.
WARM_UP = Batch(
    task_ids=tuple(f"warm-up-{i}" for i in range(8)),
    work=np.linspace(60.0, 600.0, 8),
    load=np.ones(8),
    deadline=np.full(8, np.nan),
    demand=np.ones((8, 1)),
    machine_ids=("a", "b", "c"),
    speed=np.array([1.0, 2.0, 3.0]),
    capacity=np.full((3, 1), 8.0),
    watts=np.tile(np.linspace(100.0, 200.0, 11), (3, 1)),
    frequencies=((1.0, 0.8),) * 3,
    resources=(POD_SLOTS,),
    weights=Weights(1.0, 300.0),
)


def build(settings: ExtenderSettings) -> ExtenderService:
    """Check the settings, then start the solver, the watch (when the API server is named)
    and the planner; return the app to serve."""
    solver, options = settings.planner.solver, settings.planner.solver_options
    check_solver(solver, options, WARM_UP)
    watched = settings.watch and has_credentials(settings.kubeconfig)
    if settings.bind and not watched:
        # Binding without the watch would count pods onto nodes and never take them off.
        raise ValueError("--bind needs the API server: --kubeconfig, or run in a pod")
    # Hand the GIL over after 1 ms rather than 5: the watch and the planner's bookkeeping
    # then delay an HTTP answer by at most about that much.
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)

    metrics = ExtenderMetrics()
    planner_box: list[Planner] = []
    cluster = ClusterCache(settings.scheduler_name, on_change=lambda: planner_box[0].wake())
    if settings.server:
        remote = remote_solve(settings.server, solver, options, settings.seed, settings.credentials)
        solve, stop_solver = remote, None
    else:
        solve, stop_solver = process_solve(solver, options, settings.seed)
    planner = Planner(
        cluster, solve, settings.planner, on_binding=metrics.bound, on_plan=metrics.planned
    )
    planner_box.append(planner)

    watch, binder, synced = None, None, threading.Event()
    if watched:
        from qsched.service.extender import kube  # the kubernetes client, only when used

        client = kube.api_client(settings.kubeconfig)
        watch = kube.ClusterWatch(client, cluster)
        watch.start()
        synced = watch.synced
        if settings.bind:
            binder = _binder(kube, client)
    else:
        log.warning(
            "no API server named: the extender knows only the nodes and pods kube-scheduler "
            "sends it (run with --kubeconfig or in a pod for the full picture)"
        )
        synced.set()
    extender = Extender(cluster, planner, binder, on_fallback=metrics.fallbacks.inc)
    warm = threading.Event()
    threading.Thread(target=_warm_up, args=(solve, warm), daemon=True).start()
    planner.start()
    app = create_app(
        extender,
        Readiness(synced.is_set, warm.is_set),
        metrics,
        settings.prefix,
        settings.max_body,
    )
    return ExtenderService(app, extender, planner, watch, warm, stop_solver)


def _binder(kube: Any, client: Any) -> Binder:
    """The bind verb's action: a Binding created through the API server."""

    def bind(args: wire.BindingArgs) -> None:
        kube.bind_pod(client, args.pod_namespace, args.pod_name, args.pod_uid, args.node)

    return bind


def _warm_up(solve: Solve, warm: threading.Event) -> None:
    """Solve a small batch once, so that the first real plan does not load or compile."""
    try:
        solve(WARM_UP, 0.5)
    except Exception:  # a remote server that is down: plans will fall back, not crash
        log.exception("warming the solver failed")
    warm.set()


def ssl_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    """A server TLS context (TLS 1.2+) from a certificate and key file, or None for plain HTTP."""
    if not cert and not key:
        return None
    if not cert or not key:
        raise ValueError("--tls-cert and --tls-key go together")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


@contextlib.contextmanager
def serving_in_thread(
    settings: ExtenderSettings, ssl_context: ssl.SSLContext | None = None
) -> Iterator[tuple[str, ExtenderService]]:
    """`build(settings)` served on a free loopback port by an event loop in a thread.

    Yields (base URL, service). For tests and the cluster simulation, which
    drive a real extender over real HTTP from the same process.
    """
    service = build(settings)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(service.app, access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, name="qsched-extender-http", daemon=True)
    thread.start()
    scheme = "https" if ssl_context else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}", service
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.run_until_complete(runner.cleanup())
        loop.close()
        service.stop()


def serve(settings: ExtenderSettings) -> int:
    """Serve until SIGINT/SIGTERM (aiohttp's run_app handles both)."""
    host, _, port = settings.listen.rpartition(":")
    context = ssl_context(settings.tls_cert, settings.tls_key)
    service = build(settings)
    try:
        web.run_app(
            service.app,
            host=host.strip("[]") or "127.0.0.1",
            port=int(port),
            ssl_context=context,
            access_log=None,
            print=lambda text: log.info("%s", text),
        )
    finally:
        service.stop()
    return 0
