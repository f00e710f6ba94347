"""A real extender on 127.0.0.1 for the tests, and Kubernetes objects to send it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from qsched.service.extender.server import ExtenderService, serving_in_thread
from qsched.service.extender.settings import ExtenderSettings


def running_extender(
    settings: ExtenderSettings = ExtenderSettings(), ssl_context: Any = None
) -> contextlib.AbstractContextManager[tuple[str, ExtenderService]]:
    """A real extender on a free loopback port (see `serving_in_thread`)."""
    return serving_in_thread(settings, ssl_context)


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


def wait_for(condition: Callable[[], object], seconds: float = 20.0) -> None:
    """Poll ``condition`` until it is true; fail the test after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
