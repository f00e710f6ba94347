"""Pods to tasks and nodes to machines: the Kubernetes rules and qsched's annotations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from extender_helpers import node, pod
from hypothesis import given, settings
from hypothesis import strategies as st

from qsched.formats.generate import SERVERS, specpower_curves
from qsched.service.extender import mapping
from qsched.service.extender.resources import (
    InvalidObject,
    parse_quantity,
    pod_requests,
    scheduler_units,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100m", 0.1),
        ("2", 2.0),
        ("1.5Gi", 1.5 * 2**30),
        ("1k", 1e3),
        ("2e3", 2e3),
        ("64Mi", 2**26),
        (3, 3.0),
    ],
)
def test_quantities(text: object, value: float) -> None:
    assert parse_quantity(text, "q") == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "1x", "-1", "lots", "1.2.3", True, None, "inf"])
def test_bad_quantities_name_the_field(text: object) -> None:
    with pytest.raises(InvalidObject, match="^spec.x:"):
        parse_quantity(text, "spec.x")


def test_scheduler_units_match_gos_milli_value_rounding() -> None:
    assert scheduler_units("cpu", 0.1) == 100  # 0.1 * 1000 is 100.00000000000001 in floats
    assert scheduler_units("cpu", 0.0001) == 1  # MilliValue rounds up
    assert scheduler_units("memory", 1.5) == 2


def test_pod_requests_follow_the_schedulers_rule() -> None:
    """max(app containers + sidecars, largest init container beside earlier sidecars) + overhead."""
    spec = {
        "containers": [
            {"resources": {"requests": {"cpu": "1", "memory": "1Gi"}}},
            {"resources": {"limits": {"cpu": "500m"}}},  # a limit alone requests the limit
        ],
        "initContainers": [
            {"resources": {"requests": {"cpu": "2"}}},
            {
                "restartPolicy": "Always",
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
            },
            {"resources": {"requests": {"cpu": "1900m"}}},
        ],
        "overhead": {"cpu": "10m"},
    }
    requests = pod_requests({"spec": spec})
    assert requests["cpu"] == pytest.approx(2.01)  # init: max(2, 1.9 + 0.1) beats 1.5 + 0.1
    assert requests["memory"] == 2**30 + 2**26
    assert requests["pods"] == 1


def test_pod_level_requests_replace_the_container_sum() -> None:
    spec = {
        "containers": [{"resources": {"requests": {"cpu": "1"}}}],
        "resources": {"requests": {"cpu": "3"}},
    }
    assert pod_requests({"spec": spec})["cpu"] == 3


def test_annotations_set_work_deadline_load_and_priority() -> None:
    manifest = pod("a", work_seconds=42)
    manifest["metadata"]["annotations"] |= {
        mapping.DEADLINE_SECONDS: "600",
        mapping.CPU_LOAD: "0.5",
        mapping.PRIORITY: "7",
    }
    task = mapping.pod_task(manifest)
    assert (task.work_seconds, task.deadline_seconds, task.cpu_load, task.priority) == (
        42,
        600,
        0.5,
        7,
    )
    default = mapping.pod_task(pod("b"))
    assert default.work_seconds == mapping.DEFAULT_WORK_SECONDS and default.deadline_seconds is None


def test_nodes_default_to_a_shipped_specpower_server() -> None:
    machine = mapping.node_machine(node("n"))
    assert machine.watts == tuple(specpower_curves()[mapping.DEFAULT_SERVER_MODEL])
    assert machine.speed == SERVERS[mapping.DEFAULT_SERVER_MODEL][0]
    assert machine.frequencies == (1.0,)
    assert machine.allocatable["memory"] == 16 * 2**30


def test_node_labels_and_annotations_set_the_power_model() -> None:
    labelled = node("n", **{mapping.SERVER_MODEL: "hp-proliant-ml110-g4"})
    assert mapping.node_machine(labelled).watts == tuple(specpower_curves()["HP ProLiant ML110 G4"])
    linear = node("l")
    linear["metadata"]["annotations"] = {
        mapping.IDLE_WATTS: "100",
        mapping.PEAK_WATTS: "200",
        mapping.DVFS_LEVELS: "1,0.8",
        mapping.SPEED: "2.5",
    }
    machine = mapping.node_machine(linear)
    assert machine.watts[0] == 100 and machine.watts[-1] == 200 and machine.watts[5] == 150
    assert (machine.frequencies, machine.speed) == ((1.0, 0.8), 2.5)


def test_cordoned_and_not_ready_nodes_are_not_schedulable() -> None:
    cordoned = node("c") | {"spec": {"unschedulable": True}}
    not_ready = node("r")
    not_ready["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    assert not mapping.node_machine(cordoned).schedulable
    assert not mapping.node_machine(not_ready).schedulable


KEYS = st.sampled_from(
    [mapping.WORK_SECONDS, mapping.DEADLINE_SECONDS, mapping.CPU_LOAD, mapping.PRIORITY]
)


@settings(derandomize=True)
@given(key=KEYS, value=st.text(max_size=12))
def test_any_pod_annotation_value_reads_or_names_its_field(key: str, value: str) -> None:
    manifest = pod("h")
    manifest["metadata"]["annotations"] = {key: value}
    try:
        mapping.pod_task(manifest)
    except InvalidObject as error:
        assert error.field == f"metadata.{key}"


NODE_KEYS = st.sampled_from(
    [
        mapping.SERVER_MODEL,
        mapping.POWER_CURVE,
        mapping.IDLE_WATTS,
        mapping.PEAK_WATTS,
        mapping.SPEED,
        mapping.DVFS_LEVELS,
    ]
)


@settings(derandomize=True)
@given(values=st.dictionaries(NODE_KEYS, st.text(max_size=30), max_size=3))
def test_any_node_annotation_value_reads_or_names_its_field(values: dict[str, str]) -> None:
    manifest = node("h")
    manifest["metadata"]["annotations"] = values
    try:
        mapping.node_machine(manifest)
    except InvalidObject as error:
        assert error.field.removeprefix("metadata.") in values or error.field in (
            f"metadata.{mapping.IDLE_WATTS}",
            f"metadata.{mapping.PEAK_WATTS}",
        )


def test_the_docs_example_maps_as_the_docs_say() -> None:
    page = (Path(__file__).resolve().parent.parent / "docs" / "kubernetes.md").read_text()
    block = re.search(r"```yaml\n(apiVersion: v1\nkind: Pod.*?)```", page, re.S)
    assert block is not None
    example_pod, example_node = yaml.safe_load_all(block.group(1))
    task = mapping.pod_task(example_pod)
    machine = mapping.node_machine(example_node)
    assert (task.work_seconds, task.deadline_seconds) == (900, 3600)
    assert task.requests == {"cpu": 2, "memory": 4 * 2**30, "pods": 1}
    assert task.work_seconds / machine.speed == 187.5
    assert (machine.watts[0], machine.watts[-1]) == (58.4, 222)
    assert machine.frequencies == (1.0, 0.8, 0.6)
    assert machine.allocatable == {"cpu": 12, "memory": 64 * 2**30, "pods": 110}
