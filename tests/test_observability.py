"""Prometheus metrics of the gRPC service, the Grafana dashboard over them, JSON logs."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import grpc
import pytest
import requests
from service_helpers import RPC_TIMEOUT, make_small_problem, solve_request

from qsched.service.client import scheduler_stub
from qsched.service.config import ServiceConfig
from qsched.service.extender.metrics import ExtenderMetrics
from qsched.service.logs import JsonFormatter
from qsched.service.metrics import ServiceMetrics
from qsched.service.server import Server
from qsched.v1 import scheduler_pb2

DASHBOARD = Path(__file__).resolve().parent.parent / "deploy" / "grafana" / "qsched-dashboard.json"


def sample(text: str, name: str) -> float:
    """One sample of a Prometheus exposition (labels included in ``name``)."""
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


def test_metrics_count_rpcs_solves_queue_and_store(tmp_path: Path) -> None:
    config = ServiceConfig(workers=1, grace_seconds=1.0)
    db = tmp_path / "jobs.db"
    with Server("127.0.0.1:0", db, config, metrics_address="127.0.0.1:0") as server:
        stub = scheduler_stub(server.address)
        stub.Solve(solve_request(make_small_problem()), timeout=RPC_TIMEOUT)
        with pytest.raises(grpc.RpcError):
            stub.GetJob(scheduler_pb2.GetJobRequest(job_id="nope"), timeout=RPC_TIMEOUT)
        text = requests.get(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=5).text
    assert sample(text, 'qsched_rpcs_total{code="OK",method="Solve"}') == 1
    assert sample(text, 'qsched_rpcs_total{code="NOT_FOUND",method="GetJob"}') == 1
    assert sample(text, 'qsched_rpc_seconds_count{method="Solve"}') == 1
    assert sample(text, 'qsched_solve_seconds_count{solver="min-min"}') == 1
    assert sample(text, "qsched_running_solves") == 0
    assert sample(text, "qsched_queued_jobs") == 0
    assert sample(text, "qsched_store_bytes") > 0


def exposed_names(registry) -> set[str]:
    """Every series name a registry exposes, with the suffixes Prometheus adds."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    return {
        family.name + suffix
        for family in registry.collect()
        for suffix in suffixes.get(family.type, ("",))
    }


def test_the_dashboard_queries_only_metrics_that_exist() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    known = exposed_names(ServiceMetrics().registry) | exposed_names(ExtenderMetrics().registry)
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"qsched_[a-z_]+", target["expr"])
    }
    assert queried and queried <= known, queried - known
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])


def test_json_logs_carry_job_tenant_and_solver() -> None:
    record = logging.LogRecord(
        "qsched.service.jobs", logging.INFO, __file__, 1, "job queued", (), None
    )
    record.job_id, record.tenant, record.solver = "abc", "team-a", "min-min"
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "job queued" and entry["level"] == "INFO"
    assert (entry["job_id"], entry["tenant"], entry["solver"]) == ("abc", "team-a", "min-min")


def test_qsched_health_answers_for_the_server_and_the_extender(tmp_path: Path, capsys) -> None:
    from extender_helpers import running_extender

    from qsched.cli import main

    with Server("127.0.0.1:0", tmp_path / "jobs.db", ServiceConfig(workers=1)) as server:
        assert main(["health", "--server", server.address]) == 0
        assert "SERVING" in capsys.readouterr().out
        address = server.address
    assert main(["health", "--server", address, "--timeout", "1"]) == 1  # stopped
    with running_extender() as (url, _):
        assert main(["health", "--http", f"{url}/healthz"]) == 0
        assert main(["health", "--http", f"{url}/no-such-path", "--timeout", "1"]) == 1
