"""An in-memory Kubernetes API server for nodes, pods and bindings, served over real HTTP.

No kube-apiserver can run where qsched is tested, yet the extender must be
tested through the official ``kubernetes`` client: its list paging, watch
streams, 410 Gone and Binding quirks only show on the wire. This server speaks
that wire for the few core/v1 resources the extender uses, with the API
server's own rules where the extender depends on them: one global
resourceVersion bumped by every write, consistent list snapshots behind
``limit``/``continue``, watches that resume after a resourceVersion and answer
410 Gone (an ERROR event) once it has left a bounded event history, BOOKMARK
events when a watch times out, Status bodies on errors, and Binding's 409 when a
pod is already assigned. It ships with the package (like qiskit's fake
providers) because the cluster-simulation benchmark drives it too.

`FakeApiServer` runs it on 127.0.0.1 in a thread of its own; its direct methods
(`FakeApiServer.add_pod`, `FakeApiServer.bind`, ...) go through the same store
and emit the same watch events as the HTTP routes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import itertools
import json
import threading
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import kubernetes.client
import kubernetes.config
from aiohttp import web

#: Resources served, by their URL name: (kind, namespaced).
_KINDS = {"nodes": ("Node", False), "pods": ("Pod", True)}
#: List snapshots kept for ``continue`` tokens; an older token answers 410 like an expired one.
_SNAPSHOTS = 64
#: How long `FakeApiServer` waits for its thread (start, stop, a direct call).
_THREAD_TIMEOUT = 10.0

_T = TypeVar("_T")


class StatusError(Exception):
    """A request the API server refuses; its `status` body is the one sent back."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message

    def status(self) -> dict[str, Any]:
        """The ``Status`` object the real API server answers a failed request with."""
        return _status("Failure", self.code, self.reason, self.message)


class _Gone(Exception):
    """A watch asked for a resourceVersion older than the event history reaches back."""


def _status(outcome: str, code: int, reason: str = "", message: str = "") -> dict[str, Any]:
    status: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}}
    status |= {"status": outcome, "code": code}
    return status | ({"reason": reason, "message": message} if reason else {})


def _dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@dataclass(frozen=True)
class _Event:
    """One write, serialized once: every watch that streams it sends these bytes."""

    resource_version: int
    resource: str
    namespace: str | None
    line: bytes


class _Store:
    """Nodes and pods, their resourceVersions and the recent events; used on one event loop only.

    Stored objects are never changed in place (a write stores a new dict), so
    list snapshots can hold on to them.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, history: int) -> None:
        # Never 0: to a watch or a list, resourceVersion "0" means "any version".
        self.resource_version = 1
        self.closing = False
        self._loop = loop
        self._objects: dict[str, dict[str, tuple[dict[str, Any], bytes]]] = {r: {} for r in _KINDS}
        self._history: deque[_Event] = deque(maxlen=history)
        # Watches from a resourceVersion below this one have missed evicted events: 410 Gone.
        self._horizon = 0
        self._snapshots: OrderedDict[str, tuple[int, list[bytes]]] = OrderedDict()
        self.changed: asyncio.Future[None] = loop.create_future()

    def get(self, resource: str, key: str) -> dict[str, Any]:
        entry = self._objects[resource].get(key)
        if entry is None:
            raise StatusError(404, "NotFound", f'{resource} "{key.rpartition("/")[2]}" not found')
        return entry[0]

    def objects(self, resource: str) -> list[dict[str, Any]]:
        return [obj for obj, _ in self._objects[resource].values()]

    def create(self, resource: str, body: object, namespace: str | None = None) -> dict[str, Any]:
        """Store a new object as the API server would: defaults, uid, timestamps, version."""
        if not isinstance(body, dict):
            raise StatusError(400, "BadRequest", f"a {_KINDS[resource][0]} must be a JSON object")
        obj: dict[str, Any] = json.loads(json.dumps(body))  # a private copy, JSON values only
        metadata = obj.setdefault("metadata", {})
        name = metadata.get("name")
        if not isinstance(name, str) or not name:
            raise StatusError(422, "Invalid", "metadata.name: Required value: name is required")
        if namespace is not None and metadata.setdefault("namespace", namespace) != namespace:
            message = "the namespace of the provided object does not match the request"
            raise StatusError(400, "BadRequest", message)
        if resource == "pods":  # the API server's defaults for a new pod
            obj.setdefault("spec", {}).setdefault("schedulerName", "default-scheduler")
            obj.setdefault("status", {}).setdefault("phase", "Pending")
        key = f"{namespace}/{name}" if namespace is not None else name
        if key in self._objects[resource]:
            raise StatusError(409, "AlreadyExists", f'{resource} "{name}" already exists')
        metadata.setdefault("uid", str(uuid.uuid4()))
        now = datetime.datetime.now(datetime.UTC)
        metadata["creationTimestamp"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        obj["kind"], obj["apiVersion"] = _KINDS[resource][0], "v1"
        return self._write(resource, key, "ADDED", obj)

    def delete(self, resource: str, key: str) -> dict[str, Any]:
        """Remove an object at once (grace period 0); watches see it, newly versioned, DELETED."""
        obj = self.get(resource, key)
        return self._write(resource, key, "DELETED", obj | {"metadata": dict(obj["metadata"])})

    def bind(self, namespace: str, binding: object, name: str | None = None) -> None:
        """Assign a pod to a node, refusing what the API server's Binding refuses."""
        if not isinstance(binding, dict) or not isinstance(binding.get("target"), dict):
            raise StatusError(400, "BadRequest", "a Binding needs a target")
        metadata = binding.get("metadata") or {}
        name = name or metadata.get("name")
        node = binding["target"].get("name")
        if binding["target"].get("kind", "Node") not in ("", "Node") or not node:
            raise StatusError(422, "Invalid", "target: must be a Node with a name")
        pod = self.get("pods", f"{namespace}/{name}")
        uid = metadata.get("uid")
        if uid and uid != pod["metadata"]["uid"]:
            message = (
                f"Precondition failed: UID in precondition: {uid}, "
                f"UID in object meta: {pod['metadata']['uid']}"
            )
            raise StatusError(409, "Conflict", message)
        if pod["spec"].get("nodeName"):
            message = (
                f'Operation cannot be fulfilled on pods/binding "{name}": '
                f'pod {name} is already assigned to node "{pod["spec"]["nodeName"]}"'
            )
            raise StatusError(409, "Conflict", message)
        bound = pod | {"metadata": dict(pod["metadata"]), "spec": pod["spec"] | {"nodeName": node}}
        self._write("pods", f"{namespace}/{name}", "MODIFIED", bound)

    def _write(self, resource: str, key: str, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        self.resource_version += 1
        obj["metadata"]["resourceVersion"] = str(self.resource_version)
        raw = _dumps(obj)
        if kind == "DELETED":
            del self._objects[resource][key]
        else:
            self._objects[resource][key] = (obj, raw)
        if len(self._history) == self._history.maxlen:
            self._horizon = self._history[0].resource_version
        line = b'{"type":"%s","object":%s}\n' % (kind.encode(), raw)
        namespace = obj["metadata"].get("namespace")
        self._history.append(_Event(self.resource_version, resource, namespace, line))
        self.wake()
        return obj

    def wake(self) -> None:
        """Wake every watch waiting on `changed` (a write, or the server closing)."""
        self.changed.set_result(None)
        self.changed = self._loop.create_future()

    def events_after(
        self, resource: str, namespace: str | None, resource_version: int
    ) -> tuple[list[bytes], int]:
        """Event lines after ``resource_version`` and the version they bring a watch up to."""
        if resource_version < self._horizon:
            raise _Gone(f"too old resource version: {resource_version} ({self._horizon})")
        if not self._history or resource_version >= self.resource_version:
            return [], max(resource_version, self.resource_version)
        start = max(0, resource_version + 1 - self._history[0].resource_version)
        lines = [
            event.line
            for event in itertools.islice(self._history, start, None)
            if event.resource == resource and namespace in (None, event.namespace)
        ]
        return lines, self.resource_version

    def current(self, resource: str, namespace: str | None) -> list[bytes]:
        """The serialized objects of a collection, in the API server's key order."""
        objects = self._objects[resource]
        prefix = f"{namespace}/" if namespace is not None else ""
        return [objects[key][1] for key in sorted(objects) if key.startswith(prefix)]

    def page(
        self, resource: str, namespace: str | None, limit: int, token: str | None
    ) -> tuple[int, list[bytes], str | None, int]:
        """One page of a consistent list: (version, items, next token, items left after it).

        The first page snapshots the collection; ``continue`` tokens read on from
        that snapshot, so later writes never show up in a paged list.
        """
        if token is None:
            version, items, offset = self.resource_version, self.current(resource, namespace), 0
        else:
            snapshot, _, offset_text = token.rpartition(":")
            if snapshot not in self._snapshots or not offset_text.isdigit():
                message = "The provided continue parameter is too old to display a consistent list"
                raise StatusError(410, "Expired", message)
            (version, items), offset = self._snapshots[snapshot], int(offset_text)
        end = offset + limit if limit > 0 else len(items)
        if end >= len(items):
            return version, items[offset:], None, 0
        if token is None:
            snapshot = uuid.uuid4().hex
            self._snapshots[snapshot] = (version, items)
            if len(self._snapshots) > _SNAPSHOTS:
                self._snapshots.popitem(last=False)
        return version, items[offset:end], f"{snapshot}:{end}", len(items) - end


def _query_int(request: web.Request, name: str, default: int) -> int:
    value = request.query.get(name, "")
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise StatusError(400, "BadRequest", f"{name}: {value!r} is not an integer") from None


def _json_response(body: object, status: int = 200) -> web.Response:
    return web.Response(body=_dumps(body), status=status, content_type="application/json")


class _Api:
    """The HTTP routes over one `_Store`."""

    def __init__(self, store: _Store, watched: Callable[[], None]) -> None:
        self.store = store
        self._watched = watched
        # The connections of the open watches (a Request is not hashable; its transport is).
        self._streaming: set[asyncio.BaseTransport] = set()

    def routes(self) -> list[web.RouteDef]:
        pods = "/api/v1/namespaces/{namespace}/pods"
        return [
            web.get("/api/v1/nodes", self._collection("nodes")),
            web.post("/api/v1/nodes", self._create("nodes")),
            web.get("/api/v1/nodes/{name}", self._read("nodes")),
            web.delete("/api/v1/nodes/{name}", self._delete("nodes")),
            web.get("/api/v1/pods", self._collection("pods")),
            web.get(pods, self._collection("pods")),
            web.post(pods, self._create("pods")),
            web.get(pods + "/{name}", self._read("pods")),
            web.delete(pods + "/{name}", self._delete("pods")),
            web.post(pods + "/{name}/binding", self._bind),
            web.post("/api/v1/namespaces/{namespace}/bindings", self._bind),
        ]

    @web.middleware
    async def statuses(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Answer every refusal with its ``Status`` body, as the API server does."""
        try:
            response: web.StreamResponse = await handler(request)
        except StatusError as error:
            return _json_response(error.status(), error.code)
        return response

    def close_streams(self) -> None:
        """End every open watch stream now, without a BOOKMARK (a dropped connection)."""
        for transport in self._streaming:
            transport.close()

    @staticmethod
    def _key(request: web.Request) -> str:
        namespace = request.match_info.get("namespace")
        name = request.match_info["name"]
        return f"{namespace}/{name}" if namespace is not None else name

    def _create(self, resource: str) -> Callable[[web.Request], Any]:
        async def create(request: web.Request) -> web.Response:
            try:
                body = await request.json()
            except ValueError:
                raise StatusError(400, "BadRequest", "the body is not JSON") from None
            namespace = request.match_info.get("namespace")
            return _json_response(self.store.create(resource, body, namespace), 201)

        return create

    def _read(self, resource: str) -> Callable[[web.Request], Any]:
        async def read(request: web.Request) -> web.Response:
            return _json_response(self.store.get(resource, self._key(request)))

        return read

    def _delete(self, resource: str) -> Callable[[web.Request], Any]:
        async def delete(request: web.Request) -> web.Response:
            return _json_response(self.store.delete(resource, self._key(request)))

        return delete

    async def _bind(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            raise StatusError(400, "BadRequest", "the body is not JSON") from None
        namespace = request.match_info["namespace"]
        self.store.bind(namespace, body, request.match_info.get("name"))
        return _json_response(_status("Success", 201), 201)

    def _collection(self, resource: str) -> Callable[[web.Request], Any]:
        async def collection(request: web.Request) -> web.StreamResponse:
            for selector in ("fieldSelector", "labelSelector"):
                if request.query.get(selector):
                    raise StatusError(400, "BadRequest", f"{selector} is not supported here")
            namespace = request.match_info.get("namespace")
            if request.query.get("watch") in ("true", "1"):
                return await self._watch(request, resource, namespace)
            limit = _query_int(request, "limit", 0)
            token = request.query.get("continue") or None
            version, items, token, remaining = self.store.page(resource, namespace, limit, token)
            metadata: dict[str, Any] = {"resourceVersion": str(version)}
            if token is not None:
                metadata |= {"continue": token, "remainingItemCount": remaining}
            head = {"kind": f"{_KINDS[resource][0]}List", "apiVersion": "v1", "metadata": metadata}
            body = _dumps(head)[:-1] + b',"items":[' + b",".join(items) + b"]}"
            return web.Response(body=body, content_type="application/json")

        return collection

    async def _watch(
        self, request: web.Request, resource: str, namespace: str | None
    ) -> web.StreamResponse:
        """Stream events after ``resourceVersion`` until ``timeoutSeconds``, the client or a 410.

        An absent or "0" resourceVersion first sends every current object as
        ADDED, as the API server does. With ``allowWatchBookmarks`` a timed-out
        watch ends with a BOOKMARK carrying the version it reached, so the
        client resumes from there even if nothing it watches changed.
        """
        requested = request.query.get("resourceVersion", "")
        cursor = self.store.resource_version if requested in ("", "0") else None
        if cursor is None:
            cursor = _query_int(request, "resourceVersion", 0)
        initial = [] if requested not in ("", "0") else self.store.current(resource, namespace)
        timeout = _query_int(request, "timeoutSeconds", 0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout > 0 else None
        stream = web.StreamResponse(headers={"Content-Type": "application/json"})
        stream.enable_chunked_encoding()
        await stream.prepare(request)
        self._watched()
        transport = request.transport
        if transport is not None:
            self._streaming.add(transport)
        try:
            lines = [b'{"type":"ADDED","object":%s}\n' % raw for raw in initial]
            while not self.store.closing:
                try:
                    events, cursor = self.store.events_after(resource, namespace, cursor)
                except _Gone as gone:
                    error = _status("Failure", 410, "Expired", str(gone))
                    await stream.write(_dumps({"type": "ERROR", "object": error}) + b"\n")
                    break
                lines += events
                if lines:
                    await stream.write(b"".join(lines))
                    lines = []
                    continue
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    if request.query.get("allowWatchBookmarks") in ("true", "1"):
                        bookmark: dict[str, Any] = {"kind": _KINDS[resource][0], "apiVersion": "v1"}
                        bookmark["metadata"] = {"resourceVersion": str(cursor)}
                        await stream.write(_dumps({"type": "BOOKMARK", "object": bookmark}) + b"\n")
                    break
                # A timeout here only means: look at the deadline again.
                await asyncio.wait([self.store.changed], timeout=remaining)
            await stream.write_eof()
        except ConnectionError:
            pass  # the client went away (or `close_streams`): nothing left to tell it
        finally:
            if transport is not None:
                self._streaming.discard(transport)
        return stream


class FakeApiServer:
    """The fake API server on 127.0.0.1 (a free port), on an event loop in its own thread.

    ``history`` bounds the watch event history: a watch resuming from further
    back gets 410 Gone (tests set it small to provoke that). Use as a context
    manager or call `start` and `stop`.
    """

    def __init__(self, *, history: int = 10_000) -> None:
        if history < 1:
            raise ValueError("history must be >= 1")
        self._history = history
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._api: _Api | None = None
        self._watches = 0
        self._watches_changed = threading.Condition()
        self.url = ""

    def __enter__(self) -> FakeApiServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Listen on a free loopback port; returns once requests are served (`url` set)."""
        if self._thread is not None:
            raise RuntimeError("the fake API server is already started")
        loop = asyncio.new_event_loop()
        ready: concurrent.futures.Future[str] = concurrent.futures.Future()
        self._loop = loop
        self._thread = threading.Thread(
            target=self._serve, args=(loop, ready), name="fake-apiserver", daemon=True
        )
        self._thread.start()
        try:
            self.url = ready.result(timeout=_THREAD_TIMEOUT)
        except BaseException:
            self._loop = self._thread = None
            raise

    def _serve(
        self, loop: asyncio.AbstractEventLoop, ready: concurrent.futures.Future[str]
    ) -> None:
        asyncio.set_event_loop(loop)
        try:
            ready.set_result(loop.run_until_complete(self._listen(loop)))
        except BaseException as error:  # noqa: BLE001 - handed to start()'s caller
            ready.set_exception(error)
            loop.close()
            return
        loop.run_forever()
        loop.close()

    async def _listen(self, loop: asyncio.AbstractEventLoop) -> str:
        self._api = _Api(_Store(loop, self._history), self._watched)
        app = web.Application(middlewares=[self._api.statuses])
        app.add_routes(self._api.routes())
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        """End the open watches, stop listening and end the thread (bounded)."""
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(_THREAD_TIMEOUT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(_THREAD_TIMEOUT)
        self._loop = self._thread = None

    async def _close(self) -> None:
        assert self._api is not None and self._runner is not None
        self._api.store.closing = True
        self._api.store.wake()
        await self._runner.cleanup()

    def _call(self, function: Callable[[_Store], _T]) -> _T:
        """Run ``function`` on the store in the server's thread (the store's only user)."""
        if self._loop is None or self._api is None:
            raise RuntimeError("the fake API server is not started")
        store = self._api.store

        async def call() -> _T:
            return function(store)

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(_THREAD_TIMEOUT)

    def kubeconfig(self, path: str | Path) -> Path:
        """Write a kubeconfig file for this server (plain HTTP, no auth) and return its path."""
        context = {"cluster": "fake", "user": "fake"}
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {}}],
            "contexts": [{"name": "fake", "context": context}],
            "current-context": "fake",
        }
        path = Path(path)
        path.write_text(json.dumps(config, indent=2))  # JSON is YAML: the client's loader reads it
        return path

    def client(self) -> kubernetes.client.ApiClient:
        """A `kubernetes.client.ApiClient` talking to this server."""
        configuration = kubernetes.client.Configuration()
        configuration.host = self.url
        return kubernetes.client.ApiClient(configuration)

    def _watched(self) -> None:
        with self._watches_changed:
            self._watches += 1
            self._watches_changed.notify_all()

    @property
    def watch_count(self) -> int:
        """How many watch requests were served so far."""
        with self._watches_changed:
            return self._watches

    def wait_for_watches(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` watch requests were served (a client reconnected); False if not."""
        with self._watches_changed:
            return self._watches_changed.wait_for(lambda: self._watches >= count, timeout)

    def close_watches(self) -> None:
        """Drop every open watch connection, as an API server restart would."""
        self._call(lambda _: self._api.close_streams() if self._api else None)

    def add_node(self, node: dict[str, Any]) -> dict[str, Any]:
        """Create a node (as ``POST /api/v1/nodes``); returns it as stored."""
        return self._call(lambda store: store.create("nodes", node))

    def delete_node(self, name: str) -> dict[str, Any]:
        return self._call(lambda store: store.delete("nodes", name))

    def add_pod(self, pod: dict[str, Any]) -> dict[str, Any]:
        """Create a pod in its ``metadata.namespace`` ("default" if none); returns it as stored."""
        namespace = pod.get("metadata", {}).get("namespace") or "default"
        return self._call(lambda store: store.create("pods", pod, namespace))

    def delete_pod(self, namespace: str, name: str) -> dict[str, Any]:
        return self._call(lambda store: store.delete("pods", f"{namespace}/{name}"))

    def bind(self, namespace: str, name: str, node: str) -> None:
        """Bind a pod to a node (as a Binding through the API); `StatusError` if refused."""
        binding = {"metadata": {"name": name}, "target": {"kind": "Node", "name": node}}
        self._call(lambda store: store.bind(namespace, binding))

    def pods(self) -> list[dict[str, Any]]:
        """The stored pods (read-only: the store's own objects)."""
        return self._call(lambda store: store.objects("pods"))

    def nodes(self) -> list[dict[str, Any]]:
        """The stored nodes (read-only: the store's own objects)."""
        return self._call(lambda store: store.objects("nodes"))
