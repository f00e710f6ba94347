"""The extender's HTTP server (aiohttp): kube-scheduler's verbs plus health, version, metrics.

Routes: POST ``{prefix}/filter``, ``{prefix}/prioritize``, ``{prefix}/preempt``
and, with binding on, ``{prefix}/bind``; GET ``/healthz``, ``/readyz``,
``/version``, ``/metrics``. Bodies above ``max_body`` get 413, other methods
405 (aiohttp's router), bodies not declared JSON 415. A request that does not
decode, or names a pod or node qsched cannot read, gets HTTP 200 with the
reason in ``Error`` (filter, bind) or an empty list (prioritize: the
scheduler ignores prioritize errors anyway), as kube-scheduler expects; preempt,
whose result has no ``Error``, answers 400. No handler ever lets a traceback
out: an unexpected failure is logged once and answered like a bad request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from qsched import __version__
from qsched.service.extender import wire
from qsched.service.extender.answers import Extender
from qsched.service.extender.metrics import ExtenderMetrics
from qsched.service.extender.resources import InvalidObject
from qsched.service.extender.settings import DEFAULT_MAX_BODY

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Readiness:
    """What /readyz waits for: the first full list of the cluster, and warm solver kernels."""

    synced: Callable[[], bool]
    warm: Callable[[], bool]


def create_app(
    extender: Extender,
    readiness: Readiness,
    metrics: ExtenderMetrics,
    prefix: str = "/scheduler",
    max_body: int = DEFAULT_MAX_BODY,
) -> web.Application:
    """The aiohttp application; ``bind`` is routed only when the extender can bind."""
    app = web.Application(client_max_size=max_body, middlewares=[_counted(metrics)])
    prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
    handlers: dict[str, Callable[[Any], Any]] = {
        "filter": lambda doc: extender.filter(wire.extender_args(doc)),
        "prioritize": lambda doc: extender.prioritize(wire.extender_args(doc)),
        "preempt": lambda doc: extender.preempt(wire.preemption_args(doc)),
    }
    if extender.binder is not None:
        handlers["bind"] = lambda doc: extender.bind(wire.binding_args(doc))
    for verb, answer in handlers.items():
        app.router.add_post(f"{prefix}/{verb}", _verb(verb, answer, metrics))
    app.router.add_get("/healthz", _text("ok"))
    app.router.add_get("/readyz", _ready(readiness))
    app.router.add_get("/version", _version(tuple(handlers)))
    app.router.add_get("/metrics", _metrics(extender, metrics))
    return app


def _verb(
    verb: str, answer: Callable[[Any], Any], metrics: ExtenderMetrics
) -> Callable[[web.Request], Awaitable[web.Response]]:
    # Bind waits on the API server: in a thread, so that the loop keeps answering the
    # other verbs meanwhile. The others are a few milliseconds of NumPy: inline.
    blocking = verb == "bind"

    async def handle(request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return web.json_response(
                {"Error": f"Content-Type must be application/json, not {request.content_type!r}"},
                status=415,
            )
        started = time.perf_counter()
        body = await request.read()
        try:
            document = wire.parse_json(body)
            result = await asyncio.to_thread(answer, document) if blocking else answer(document)
        except (wire.WireError, InvalidObject) as error:
            metrics.errors.labels(verb).inc()
            return _refusal(verb, str(error))
        except Exception as error:  # a bug must not become a traceback on the wire
            log.exception("%s failed", verb)
            metrics.errors.labels(verb).inc()
            return _refusal(verb, f"qsched could not answer {verb}: {error.__class__.__name__}")
        finally:
            metrics.latency.labels(verb).observe(time.perf_counter() - started)
        if isinstance(result, dict) and result.get("Error"):
            metrics.errors.labels(verb).inc()
        return web.json_response(result)

    return handle


def _refusal(verb: str, reason: str) -> web.Response:
    """How each verb says no in a way kube-scheduler reads (see the module docstring)."""
    if verb == "prioritize":
        return web.json_response([])
    if verb == "preempt":
        return web.json_response({"Error": reason}, status=400)
    if verb == "bind":
        return web.json_response(wire.binding_result(reason))
    return web.json_response(wire.filter_result(None, None, {}, {}, reason))


def _counted(metrics: ExtenderMetrics) -> Any:
    @web.middleware
    async def count(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as error:
            metrics.requests.labels(_path(request), str(error.status)).inc()
            raise
        metrics.requests.labels(_path(request), str(response.status)).inc()
        return response

    return count


def _path(request: web.Request) -> str:
    """The route's path, or "other" (unbounded client paths must not become label values)."""
    route = request.match_info.route.resource
    return route.canonical if route is not None else "other"


def _text(body: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(_: web.Request) -> web.Response:
        return web.Response(text=body)

    return handle


def _ready(readiness: Readiness) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(_: web.Request) -> web.Response:
        waiting = [
            what
            for what, done in (("cluster sync", readiness.synced), ("solver", readiness.warm))
            if not done()
        ]
        if waiting:
            return web.Response(status=503, text="waiting for " + ", ".join(waiting))
        return web.Response(text="ok")

    return handle


def _version(verbs: tuple[str, ...]) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(_: web.Request) -> web.Response:
        api = "k8s.io/kube-scheduler/extender/v1"
        return web.json_response({"qsched": __version__, "api": api, "verbs": verbs})

    return handle


def _metrics(
    extender: Extender, metrics: ExtenderMetrics
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(_: web.Request) -> web.Response:
        metrics.pending.set(extender.cluster.pending_count())
        metrics.unplanned.set(extender.planner.unplanned())
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return handle
