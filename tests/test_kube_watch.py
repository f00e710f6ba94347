"""The extender's list+watch and Binding, through the official client against the fake API server.

Everything runs over real HTTP on 127.0.0.1: the client's paging, chunked
watch streams, 410 Gone and the Binding response are exactly what a real API
server would put on the wire for these requests.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import ApiException, CoreV1Api

from qsched.service.extender.kube import (
    BindError,
    ClusterWatch,
    ConfigError,
    api_client,
    bind_pod,
)
from qsched.testing.fake_apiserver import FakeApiServer, StatusError

#: How long a test waits for the watch to deliver what it expects.
WAIT = 5.0


class RecordingSink:
    """A `ClusterSink` that keeps the cluster it was told about, and every call in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.nodes: dict[str, dict[str, Any]] = {}
        self.pods: dict[str, dict[str, Any]] = {}
        self.replaced = 0
        self._changed = threading.Condition()

    def _record(self, *call: str) -> None:
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def replace(self, nodes: list[dict[str, Any]], pods: list[dict[str, Any]]) -> None:
        self.nodes = {node["metadata"]["name"]: node for node in nodes}
        self.pods = {pod["metadata"]["uid"]: pod for pod in pods}
        self.replaced += 1
        self._record("replace", str(len(nodes)), str(len(pods)))

    def node_changed(self, node: dict[str, Any]) -> None:
        self.nodes[node["metadata"]["name"]] = node
        self._record("node_changed", node["metadata"]["name"])

    def node_deleted(self, name: str) -> None:
        del self.nodes[name]
        self._record("node_deleted", name)

    def pod_changed(self, pod: dict[str, Any]) -> None:
        self.pods[pod["metadata"]["uid"]] = pod
        self._record("pod_changed", pod["metadata"]["name"], pod["spec"].get("nodeName", ""))

    def pod_deleted(self, uid: str) -> None:
        name = self.pods.pop(uid)["metadata"]["name"]
        self._record("pod_deleted", name)

    def wait(self, predicate: Callable[[RecordingSink], bool]) -> None:
        """Block until ``predicate(self)`` holds (checked after every call), or fail the test."""
        with self._changed:
            held = self._changed.wait_for(lambda: predicate(self), WAIT)
        assert held, f"the sink did not get there; its last calls: {self.calls[-8:]}"

    def since(self, index: int, method: str) -> list[tuple[str, ...]]:
        return [call for call in self.calls[index:] if call[0] == method]


def node(name: str, cpu: str = "4") -> dict[str, Any]:
    return {"metadata": {"name": name}, "status": {"allocatable": {"cpu": cpu, "pods": "110"}}}


def pod(name: str, node_name: str = "", namespace: str = "default") -> dict[str, Any]:
    spec: dict[str, Any] = {"schedulerName": "qsched", "containers": [{"name": "c"}]}
    spec |= {"nodeName": node_name} if node_name else {}
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    with FakeApiServer() as fake:
        yield fake


@contextmanager
def watching(server: FakeApiServer, **options: Any) -> Iterator[tuple[RecordingSink, Any]]:
    """A started `ClusterWatch` on ``server`` that has listed once: (sink, api client)."""
    sink = RecordingSink()
    client = server.client()
    watch = ClusterWatch(client, sink, **options)
    watch.start()
    try:
        assert watch.synced.wait(WAIT)
        yield sink, client
    finally:
        watch.stop()
        client.close()


def test_initial_list_reaches_the_sink_page_by_page(server: FakeApiServer) -> None:
    for index in range(7):
        server.add_node(node(f"n{index}"))
    for index in range(12):
        server.add_pod(pod(f"p{index:02}", node_name="n0" if index % 2 else ""))
    with watching(server, page_size=5) as (sink, _):
        assert sink.calls[0] == ("replace", "7", "12")
        assert sorted(sink.nodes) == [f"n{index}" for index in range(7)]
        first = next(iter(sink.nodes.values()))
        assert first["status"]["allocatable"] == {"cpu": "4", "pods": "110"}  # the API's own JSON
        names = sorted(p["metadata"]["name"] for p in sink.pods.values())
        assert names == [f"p{index:02}" for index in range(12)]


def test_a_paged_list_is_one_consistent_snapshot(server: FakeApiServer) -> None:
    for index in range(5):
        server.add_pod(pod(f"p{index}"))
    with server.client() as client:
        api = CoreV1Api(client)
        first = json.loads(api.list_pod_for_all_namespaces(limit=2, _preload_content=False).data)
        assert first["metadata"]["remainingItemCount"] == 3
        server.add_pod(pod("p-late"))
        server.delete_pod("default", "p4")
        rest, token = [], first["metadata"]["continue"]
        while token:
            page = api.list_pod_for_all_namespaces(limit=2, _continue=token, _preload_content=False)
            body = json.loads(page.data)
            assert body["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
            rest += body["items"]
            token = body["metadata"].get("continue")
    names = [item["metadata"]["name"] for item in first["items"] + rest]
    assert names == ["p0", "p1", "p2", "p3", "p4"]


def test_changes_reach_the_sink_in_order(server: FakeApiServer) -> None:
    server.add_node(node("n0"))
    with watching(server) as (sink, _):
        server.add_node(node("n1"))
        server.add_node(node("n1", cpu="8") | {"metadata": {"name": "n2"}})
        created = server.add_pod(pod("p0"))
        server.bind("default", "p0", "n1")
        server.delete_pod("default", "p0")
        server.delete_node("n0")
        sink.wait(lambda s: "n0" not in s.nodes and ("pod_deleted", "p0") in s.calls)
        node_calls = [call for call in sink.calls if call[0].startswith("node")]
        pod_calls = [call for call in sink.calls if call[0].startswith("pod")]
    assert node_calls == [("node_changed", "n1"), ("node_changed", "n2"), ("node_deleted", "n0")]
    assert pod_calls == [
        ("pod_changed", "p0", ""),
        ("pod_changed", "p0", "n1"),
        ("pod_deleted", "p0"),
    ]
    assert created["spec"]["schedulerName"] == "qsched"
    assert sink.replaced == 1


def test_a_watch_that_times_out_resumes_without_losing_events(server: FakeApiServer) -> None:
    with watching(server, watch_timeout=1) as (sink, _):
        names = [f"p{index}" for index in range(9)]
        assert server.wait_for_watches(2, WAIT)  # both watches are open
        for wave in range(3):
            renewed = server.watch_count + 2  # both watches (nodes, pods) renewed once more
            for name in names[wave * 3 : wave * 3 + 3]:
                server.add_pod(pod(name))
            if wave < 2:
                assert server.wait_for_watches(renewed, WAIT)
        sink.wait(lambda s: len(s.since(0, "pod_changed")) == len(names))
        assert [call[1] for call in sink.since(0, "pod_changed")] == names
        assert sink.replaced == 1  # resumed from the last version seen, never listed again


def test_a_watch_resuming_from_a_forgotten_version_relists() -> None:
    with FakeApiServer(history=4) as server, watching(server, resync_backoff=0.1) as (sink, _):
        server.add_pod(pod("p0"))
        sink.wait(lambda s: len(s.pods) == 1)
        # Six node writes push the pod watch's last version out of the 4-event history...
        for index in range(6):
            server.add_node(node(f"n{index}"))
        sink.wait(lambda s: len(s.nodes) == 6)
        # ...so when the connections drop, the pod watch resumes into a 410 and lists again.
        server.close_watches()
        sink.wait(lambda s: s.replaced == 2)
        assert sink.calls[-1] == ("replace", "6", "1")
        server.add_pod(pod("p1"))  # and it watches on from the new list
        sink.wait(lambda s: len(s.pods) == 2)


def test_the_fake_server_answers_a_too_old_version_with_a_410_event() -> None:
    with FakeApiServer(history=2) as server, server.client() as client:
        for index in range(4):
            server.add_node(node(f"n{index}"))
        response = CoreV1Api(client).list_node(
            watch=True, resource_version="2", timeout_seconds=1, _preload_content=False
        )
        events = [json.loads(line) for line in response.data.splitlines()]
    assert [event["type"] for event in events] == ["ERROR"]
    assert events[0]["object"]["code"] == 410
    assert "too old resource version" in events[0]["object"]["message"]


def watch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("cluster-watch")]


def test_stop_is_prompt_and_ends_every_thread(server: FakeApiServer) -> None:
    with server.client() as client:
        watch = ClusterWatch(client, RecordingSink())  # 300 s watches: stop must not wait them out
        watch.start()
        assert watch.synced.wait(WAIT)
        assert server.wait_for_watches(2, WAIT)
        assert len(watch_threads()) == 3  # the lister and one watch per collection
        started = time.monotonic()
        watch.stop()
        assert time.monotonic() - started < 1.0
        assert watch_threads() == []


def test_stop_is_prompt_while_the_api_server_is_unreachable() -> None:
    with FakeApiServer() as server:
        client = server.client()  # the address of a server that is gone by now
    watch = ClusterWatch(client, RecordingSink(), resync_backoff=30.0)
    watch.start()
    started = time.monotonic()
    watch.stop()
    assert time.monotonic() - started < 2.0
    assert not watch.synced.is_set()
    assert watch_threads() == []
    client.close()


def test_bind_pod_assigns_the_pod_once(server: FakeApiServer) -> None:
    server.add_node(node("n0"))
    created = server.add_pod(pod("p0"))
    uid = created["metadata"]["uid"]
    with watching(server) as (sink, client):
        bind_pod(client, "default", "p0", uid, "n0")
        sink.wait(lambda s: s.pods[uid]["spec"].get("nodeName") == "n0")
        assert sink.since(0, "pod_changed") == [("pod_changed", "p0", "n0")]
        with pytest.raises(BindError, match="already assigned to node") as conflict:
            bind_pod(client, "default", "p0", uid, "n0")
        assert conflict.value.status == 409
        with pytest.raises(BindError, match="not found") as missing:
            bind_pod(client, "default", "nope", "", "n0")
        assert missing.value.status == 404
    server.add_pod(pod("p1"))
    with server.client() as client, pytest.raises(BindError, match="UID in precondition") as stale:
        bind_pod(client, "default", "p1", uid, "n0")  # p0's uid: not this pod
    assert stale.value.status == 409
    with pytest.raises(StatusError, match="already assigned"):
        server.bind("default", "p0", "n0")


def test_api_client_reads_a_kubeconfig(server: FakeApiServer, tmp_path: Path, monkeypatch) -> None:
    server.add_node(node("n0"))
    path = server.kubeconfig(tmp_path / "config")
    with api_client(str(path)) as client:
        assert [n.metadata.name for n in CoreV1Api(client).list_node().items] == ["n0"]
    monkeypatch.setenv("KUBECONFIG", str(path))
    with api_client(None) as client:
        assert client.configuration.host == server.url


def test_api_client_without_configuration_says_what_is_missing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="KUBECONFIG"):
        api_client(None)
    with pytest.raises(ConfigError, match="does not exist"):
        api_client(str(tmp_path / "missing"))
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ConfigError, match="KUBERNETES_SERVICE_HOST unset"):
        api_client(None)


def test_the_fake_server_serves_the_typed_client(server: FakeApiServer) -> None:
    with server.client() as client:
        api = CoreV1Api(client)
        api.create_node(node("n0"))
        created = api.create_namespaced_pod("team", pod("p0", namespace="team"))
        assert created.metadata.uid and created.status.phase == "Pending"
        assert [p.metadata.name for p in api.list_namespaced_pod("team").items] == ["p0"]
        assert api.list_namespaced_pod("other").items == []
        with pytest.raises(ApiException) as duplicate:
            api.create_namespaced_pod("team", pod("p0", namespace="team"))
        assert duplicate.value.status == 409
        assert json.loads(duplicate.value.body)["reason"] == "AlreadyExists"
        bind_pod(client, "team", "p0", created.metadata.uid, "n0")
        assert api.read_namespaced_pod("p0", "team").spec.node_name == "n0"
        api.delete_namespaced_pod("p0", "team")
        with pytest.raises(ApiException) as missing:
            api.read_namespaced_pod("p0", "team")
        assert missing.value.status == 404
        api.delete_node("n0")
        assert server.nodes() == [] and server.pods() == []


def test_a_watch_from_version_0_starts_with_the_current_objects(server: FakeApiServer) -> None:
    server.add_node(node("n0"))
    server.add_node(node("n1"))
    with server.client() as client:
        response = CoreV1Api(client).list_node(
            watch=True,
            resource_version="0",
            timeout_seconds=1,
            allow_watch_bookmarks=True,
            _preload_content=False,
        )
        events = [json.loads(line) for line in response.data.splitlines()]
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in events] == [
        ("ADDED", "n0"),
        ("ADDED", "n1"),
        ("BOOKMARK", None),  # the watch timed out: where to resume from
    ]
    assert (
        events[-1]["object"]["metadata"]["resourceVersion"]
        == server.nodes()[-1]["metadata"]["resourceVersion"]
    )
