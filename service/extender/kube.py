"""The extender's link to the API server: a list+watch of nodes and pods, and Binding.

`ClusterWatch` keeps a `ClusterSink` (the extender's cluster cache) in step
with the API server the way a client-go informer does: list everything (paged),
hand the sink the full state, then watch from the list's resourceVersion,
resuming after every watch timeout from the last version seen and listing again
when the server says that version is gone (410). The objects it hands over are
the API server's own JSON (camelCase dicts), read straight off the wire:
turning thousands of pods into ``kubernetes.client`` models costs far more than
the whole planning step the extender runs on them.

`bind_pod` creates a pod's Binding, which is how a scheduler assigns a pod.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import kubernetes.client
import kubernetes.config
import urllib3
from kubernetes.client import ApiClient, ApiException, CoreV1Api

log = logging.getLogger(__name__)

#: Seconds to wait for a connection to the API server.
_CONNECT_TIMEOUT = 10.0
#: Seconds of silence a read may wait past the watch's own timeout before the link counts as dead.
_READ_MARGIN = 30.0
#: The longest wait between retries after repeated failures (the backoff doubles up to it).
_MAX_BACKOFF = 30.0

# The kubernetes client's configuration loaders carry no annotations: typed here, once.
_load_kube_config: Callable[..., None] = kubernetes.config.load_kube_config
_load_incluster_config: Callable[..., None] = kubernetes.config.load_incluster_config


class ClusterSink(Protocol):
    """What `ClusterWatch` feeds; the extender's cluster cache implements it.

    Objects are plain JSON dicts in the API's camelCase form. `ClusterWatch`
    never calls the sink from two threads at once, and never after `stop` returns.
    """

    def replace(self, nodes: list[dict[str, Any]], pods: list[dict[str, Any]]) -> None:
        """The whole cluster: after the first list, and after a relist (a watch expired)."""

    def node_changed(self, node: dict[str, Any]) -> None:
        """A node was added or modified."""

    def node_deleted(self, name: str) -> None:
        """The node called ``name`` is gone."""

    def pod_changed(self, pod: dict[str, Any]) -> None:
        """A pod was added or modified."""

    def pod_deleted(self, uid: str) -> None:
        """The pod with ``uid`` is gone."""


class ConfigError(ValueError):
    """No usable Kubernetes client configuration; the message names what was looked for."""


class BindError(Exception):
    """The API server refused a Binding (``status`` its HTTP code; None when unreachable)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def api_client(kubeconfig: str | None = None) -> ApiClient:
    """A client for the cluster the extender runs against, found the way kubectl finds it.

    In order: the ``kubeconfig`` file given; the files in ``$KUBECONFIG``; the
    pod's service account (in-cluster, ``KUBERNETES_SERVICE_HOST`` set);
    ``~/.kube/config``. A path that was asked for but does not exist is an
    error rather than a fallback, so a typo never silently talks to another cluster.
    """
    configuration = kubernetes.client.Configuration()
    default = Path("~/.kube/config").expanduser()
    try:
        if kubeconfig is not None:
            if not Path(kubeconfig).is_file():
                raise ConfigError(f"kubeconfig file {kubeconfig!r} does not exist")
            _load_kube_config(kubeconfig, client_configuration=configuration)
        elif paths := os.environ.get("KUBECONFIG"):
            if not any(Path(p).is_file() for p in paths.split(os.pathsep) if p):
                raise ConfigError(f"no file of KUBECONFIG={paths!r} exists")
            _load_kube_config(paths, client_configuration=configuration)
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            _load_incluster_config(client_configuration=configuration)
        elif default.is_file():
            _load_kube_config(str(default), client_configuration=configuration)
        else:
            raise ConfigError(
                "no Kubernetes configuration: no kubeconfig given, KUBECONFIG unset, "
                f"not in a cluster (KUBERNETES_SERVICE_HOST unset) and no {default}"
            )
    except kubernetes.config.ConfigException as error:
        raise ConfigError(f"Kubernetes configuration: {error}") from error
    return ApiClient(configuration)


def bind_pod(client: ApiClient, namespace: str, name: str, uid: str, node: str) -> None:
    """Assign the pod to ``node`` with a Binding (POST ``pods/{name}/binding``, as kube-scheduler).

    ``uid`` (unless empty) makes the API server refuse the binding if the pod
    was replaced by another of the same name. The response is not deserialized:
    the client's model rejects the Status the server answers with ("Invalid
    value for `target`, must not be `None`", kubernetes-client/python#547).
    Raises `BindError` with the server's message: 409 when the pod is already
    bound (or its uid differs), 404 when there is no such pod, 403 when not allowed.
    """
    metadata = kubernetes.client.V1ObjectMeta(name=name, uid=uid or None)
    target = kubernetes.client.V1ObjectReference(kind="Node", api_version="v1", name=node)
    body = kubernetes.client.V1Binding(metadata=metadata, target=target)
    try:
        # Typed as V1Binding, but without preloading the client returns the raw response.
        response = cast(
            urllib3.BaseHTTPResponse,
            CoreV1Api(client).create_namespaced_pod_binding(
                name,
                namespace,
                body,
                _preload_content=False,
                _request_timeout=(_CONNECT_TIMEOUT, _READ_MARGIN),
            ),
        )
    except ApiException as error:
        raise BindError(_refusal(error, f"binding {namespace}/{name}"), error.status) from error
    except urllib3.exceptions.HTTPError as error:
        raise BindError(f"binding {namespace}/{name} to {node}: {error}") from error
    response.release_conn()


def _refusal(error: ApiException, what: str) -> str:
    """The API server's own message (from its Status body) for a refused request."""
    try:
        message = json.loads(error.body or "")["message"]
    except (TypeError, ValueError, KeyError):
        message = error.reason
    return f"{what}: {error.status} {message}"


@dataclass(frozen=True)
class _Resource:
    """One watched collection: how to list it and which sink methods take its events."""

    name: str
    list_method: str
    changed: Callable[[ClusterSink, dict[str, Any]], None]
    deleted: Callable[[ClusterSink, dict[str, Any]], None]


_NODES = _Resource(
    "nodes",
    "list_node",
    lambda sink, node: sink.node_changed(node),
    lambda sink, node: sink.node_deleted(node["metadata"]["name"]),
)
_PODS = _Resource(
    "pods",
    "list_pod_for_all_namespaces",
    lambda sink, pod: sink.pod_changed(pod),
    lambda sink, pod: sink.pod_deleted(pod["metadata"]["uid"]),
)


class _Gone(Exception):
    """The API server no longer has the version a watch resumes from: list again."""


class _WatchError(Exception):
    """An ERROR event other than 410 in a watch stream."""


#: Failures of the API server or the link to it: logged without a traceback, then retried.
_EXPECTED_ERRORS = (ApiException, urllib3.exceptions.HTTPError, _WatchError)


class _Epoch:
    """One list's watches: ends (``done``) on 410, a sink failure or `ClusterWatch.stop`.

    Ending it shuts the sockets of its open watch responses down, which wakes
    their threads out of a blocking read at once.
    """

    def __init__(self) -> None:
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._responses: set[urllib3.BaseHTTPResponse] = set()

    def end(self) -> None:
        with self._lock:
            self.done.set()
            for response in self._responses:
                _shutdown(response)

    def track(self, response: urllib3.BaseHTTPResponse) -> bool:
        """Register an open watch; False if the epoch already ended (then it is not tracked)."""
        with self._lock:
            if self.done.is_set():
                return False
            self._responses.add(response)
            return True

    def untrack(self, response: urllib3.BaseHTTPResponse) -> None:
        with self._lock:
            self._responses.discard(response)


def _shutdown(response: urllib3.BaseHTTPResponse) -> None:
    connection = getattr(response, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)  # a recv blocked on it returns at once


def _events(response: urllib3.BaseHTTPResponse) -> Iterator[dict[str, Any]]:
    """The watch events of a chunked response, one JSON object per line.

    A chunk may end mid-line, and a line may span chunks: the tail is carried over.
    """
    tail = b""
    for chunk in response.stream(None):
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop()
        for line in lines:
            if line.strip():
                yield json.loads(line)


class ClusterWatch:
    """Lists and watches nodes and pods into a `ClusterSink`, in daemon threads.

    ``resync_backoff`` is the first wait after a failure (it doubles on each
    failure in a row, up to 30 s); ``watch_timeout`` the seconds a watch request
    lasts before it is renewed (the server may end it sooner); ``page_size``
    the ``limit`` of each list page. Failures are logged and retried, never
    raised: the cache goes stale while the API server is away and catches up
    when it is back.
    """

    def __init__(
        self,
        client: ApiClient,
        sink: ClusterSink,
        *,
        resync_backoff: float = 1.0,
        watch_timeout: int = 300,
        page_size: int = 500,
    ) -> None:
        if resync_backoff <= 0 or watch_timeout < 1 or page_size < 1:
            raise ValueError("resync_backoff must be > 0, watch_timeout and page_size >= 1")
        self._api = CoreV1Api(client)
        self._sink = sink
        self._resync_backoff = resync_backoff
        self._watch_timeout = watch_timeout
        self._page_size = page_size
        self.synced = threading.Event()
        self._stopping = threading.Event()
        # Serializes sink calls, and with `_epoch` makes stop() final: once it returns,
        # no thread passes the check made under this lock.
        self._sink_lock = threading.Lock()
        self._lock = threading.Lock()
        self._epoch: _Epoch | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start listing and watching in the background; `synced` is set after the first list."""
        if self._thread is not None:
            raise RuntimeError("ClusterWatch is already started")
        self._thread = threading.Thread(target=self._run, name="cluster-watch", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop within about ``timeout`` seconds; the sink is not called after this returns."""
        with self._lock:
            self._stopping.set()
            epoch = self._epoch
        if epoch is not None:
            epoch.end()
        with self._sink_lock:
            pass  # a sink call under way has ended; later ones see _stopping or their epoch end
        if self._thread is not None:
            self._thread.join(timeout)

    def _backoff(self, failures: int) -> float:
        """The wait after ``failures`` failures in a row: doubling, not to hammer a sick server."""
        ceiling = max(_MAX_BACKOFF, self._resync_backoff)
        return min(self._resync_backoff * 2.0 ** (failures - 1), ceiling)

    def _run(self) -> None:
        """List, hand over, watch until the epoch ends; again until stopped."""
        failures = 0
        while not self._stopping.is_set():
            try:
                (nodes, node_version), (pods, pod_version) = map(self._list, (_NODES, _PODS))
                with self._sink_lock:
                    if self._stopping.is_set():
                        return
                    self._sink.replace(nodes, pods)
            except Exception as error:
                failures += 1
                delay = self._backoff(failures)
                log.warning(
                    "listing the cluster failed (%s); retrying in %.1f s",
                    error,
                    delay,
                    exc_info=not isinstance(error, _EXPECTED_ERRORS),
                )
                self._stopping.wait(delay)
                continue
            failures = 0
            self.synced.set()
            epoch = _Epoch()
            with self._lock:
                if self._stopping.is_set():
                    return
                self._epoch = epoch
            watches = [
                threading.Thread(
                    target=self._watch,
                    args=(epoch, resource, version),
                    name=f"cluster-watch-{resource.name}",
                    daemon=True,
                )
                for resource, version in ((_NODES, node_version), (_PODS, pod_version))
            ]
            for thread in watches:
                thread.start()
            epoch.done.wait()
            epoch.end()
            for thread in watches:
                thread.join(_CONNECT_TIMEOUT)

    def _list(self, resource: _Resource) -> tuple[list[dict[str, Any]], str]:
        """Every object of a collection (page by page) and the list's resourceVersion."""
        items: list[dict[str, Any]] = []
        token = None
        while True:
            response = getattr(self._api, resource.list_method)(
                limit=self._page_size,
                _continue=token,
                _preload_content=False,
                _request_timeout=(_CONNECT_TIMEOUT, _READ_MARGIN),
            )
            try:
                page = json.loads(response.data)
            finally:
                response.release_conn()
            items += page.get("items") or []
            token = page["metadata"].get("continue")
            if not token:
                return items, page["metadata"]["resourceVersion"]

    def _watch(self, epoch: _Epoch, resource: _Resource, version: str) -> None:
        """Watch one collection from ``version`` until the epoch ends, renewing and retrying.

        Every event moves ``version`` on (BOOKMARKs included), so a renewed or
        retried watch resumes exactly after the last event delivered.
        """
        failures = 0
        while not epoch.done.is_set():
            try:
                with contextlib.closing(self._stream(epoch, resource, version)) as events:
                    for kind, obj in events:
                        version = obj["metadata"]["resourceVersion"]
                        if kind != "BOOKMARK" and not self._deliver(epoch, resource, kind, obj):
                            return
                failures = 0
            except _Gone as gone:
                log.info("%s watch expired (%s); listing again", resource.name, gone)
                epoch.end()
            except Exception as error:
                if epoch.done.is_set():
                    return  # its socket was shut down under it
                failures += 1
                delay = self._backoff(failures)
                log.warning(
                    "%s watch failed (%s); retrying in %.1f s",
                    resource.name,
                    error,
                    delay,
                    exc_info=not isinstance(error, _EXPECTED_ERRORS),
                )
                epoch.done.wait(delay)

    def _stream(
        self, epoch: _Epoch, resource: _Resource, version: str
    ) -> Generator[tuple[str, dict[str, Any]], None, None]:
        """One watch request's events, (type, object); raises `_Gone` on a 410."""
        try:
            response = getattr(self._api, resource.list_method)(
                watch=True,
                resource_version=version,
                allow_watch_bookmarks=True,
                timeout_seconds=self._watch_timeout,
                _preload_content=False,
                _request_timeout=(_CONNECT_TIMEOUT, self._watch_timeout + _READ_MARGIN),
            )
        except ApiException as error:
            if error.status == 410:
                raise _Gone(_refusal(error, f"watching {resource.name}")) from error
            raise
        if not epoch.track(response):
            response.close()
            return
        try:
            for event in _events(response):
                kind, obj = event["type"], event["object"]
                if kind == "ERROR":
                    message = f"{obj.get('code')} {obj.get('message')}"
                    if obj.get("code") == 410:
                        raise _Gone(message)
                    raise _WatchError(message)
                yield kind, obj
        finally:
            epoch.untrack(response)
            response.close()
            response.release_conn()

    def _deliver(self, epoch: _Epoch, resource: _Resource, kind: str, obj: dict[str, Any]) -> bool:
        """Hand one event to the sink unless the epoch ended; False if it did (or ends now).

        A sink that fails may have half-applied the event, so its state is
        rebuilt: the epoch ends and the cluster is listed again.
        """
        with self._sink_lock:
            if epoch.done.is_set():
                return False
            try:
                handler = resource.deleted if kind == "DELETED" else resource.changed
                handler(self._sink, obj)
            except Exception:
                log.exception(
                    "the cluster sink failed on %s of %s; listing again", kind, resource.name
                )
                epoch.end()
                return False
        return True
