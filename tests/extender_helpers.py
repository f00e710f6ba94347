"""A real extender on 127.0.0.1 for the tests, and Kubernetes objects to send it."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from qsched.service.extender.server import ExtenderService, ExtenderSettings, build


@contextlib.contextmanager
def running_extender(
    settings: ExtenderSettings = ExtenderSettings(), ssl_context: Any = None
) -> Iterator[tuple[str, ExtenderService]]:
    """Serve `build(settings)` on a free loopback port in a thread; yields (base URL, service)."""
    service = build(settings)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(service.app, access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
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


def node(
    name: str, cpu: str = "4", memory: str = "16Gi", pods: str = "110", **labels: str
) -> dict[str, Any]:
    """A v1.Node as the API server sends it."""
    return {
        "metadata": {"name": name, "labels": dict(labels)},
        "status": {
            "allocatable": {"cpu": cpu, "memory": memory, "pods": pods},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def pod(
    uid: str,
    cpu: str = "500m",
    memory: str = "1Gi",
    *,
    node_name: str | None = None,
    work_seconds: float | None = None,
    scheduler: str = "qsched",
) -> dict[str, Any]:
    """A v1.Pod with one container."""
    annotations = {} if work_seconds is None else {"qsched.io/work-seconds": str(work_seconds)}
    spec: dict[str, Any] = {
        "schedulerName": scheduler,
        "containers": [{"name": "main", "resources": {"requests": {"cpu": cpu, "memory": memory}}}],
    }
    if node_name:
        spec["nodeName"] = node_name
    return {
        "metadata": {
            "name": f"pod-{uid}",
            "namespace": "default",
            "uid": uid,
            "annotations": annotations,
        },
        "spec": spec,
    }
