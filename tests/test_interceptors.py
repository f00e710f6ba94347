"""The server interceptors: every method declares its permission, refused calls are counted,
and each call's handler sees its own caller, whatever runs beside it."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
import requests
from service_helpers import RPC_TIMEOUT, make_small_problem, solve_request

from qsched.service.auth import SCHEDULER_PERMISSIONS, Authenticator, Principal, digest
from qsched.service.client import ClientCredentials, connect
from qsched.service.config import ServiceConfig
from qsched.service.interceptors.authentication import AuthInterceptor, caller
from qsched.service.server import SERVICE, Server
from qsched.v1 import scheduler_pb2, scheduler_pb2_grpc

TOKENS = {"team-a": "token-a", "team-b": "token-b"}


@pytest.fixture
def secured(tmp_path: Path):
    """A server with two tenants that may submit and read, and ``/metrics``."""
    tokens = tuple(
        (bytes.fromhex(digest(token)), Principal(tenant, frozenset({"submit", "read"})))
        for tenant, token in TOKENS.items()
    )
    config = ServiceConfig(workers=1, grace_seconds=1.0)
    with Server(
        "127.0.0.1:0",
        tmp_path / "jobs.db",
        config,
        auth=Authenticator(tokens, {}),
        metrics_address="127.0.0.1:0",
    ) as server:
        yield server


def as_tenant(server: Server, tenant: str | None) -> scheduler_pb2_grpc.SchedulerServiceStub:
    token = TOKENS[tenant] if tenant else None
    return scheduler_pb2_grpc.SchedulerServiceStub(
        connect(server.address, ClientCredentials(token=token))
    )


def test_every_method_declares_the_permission_it_takes() -> None:
    assert {method.name for method in SERVICE.methods} == set(SCHEDULER_PERMISSIONS)
    partial = {name: p for name, p in SCHEDULER_PERMISSIONS.items() if name != "CancelJob"}
    with pytest.raises(ValueError, match="CancelJob"):
        AuthInterceptor(SERVICE, partial, None)


def test_outside_a_call_there_is_no_caller() -> None:
    with pytest.raises(LookupError):
        caller()


def test_refused_calls_are_counted_by_their_code(secured: Server) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        as_tenant(secured, None).ListJobs(scheduler_pb2.ListJobsRequest(), timeout=RPC_TIMEOUT)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    channel = connect(secured.address, ClientCredentials(token=TOKENS["team-a"]))
    garbage = channel.unary_unary(f"/{SERVICE.full_name}/GetJob")
    with pytest.raises(grpc.RpcError) as undecodable:
        garbage(b"\xff\xff\xff\xff", timeout=RPC_TIMEOUT)
    assert undecodable.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    text = requests.get(f"http://127.0.0.1:{secured.metrics_port}/metrics", timeout=5).text
    counted = dict(re.findall(r"^qsched_rpcs_total\{(.*)\} (\S+)$", text, re.M))
    assert counted == {
        'code="UNAUTHENTICATED",method="ListJobs"': "1.0",
        'code="INVALID_ARGUMENT",method="GetJob"': "1.0",
    }


def test_each_call_sees_its_own_caller(secured: Server) -> None:
    """Tenants' calls interleaved on the server's threads: each lists only its own jobs."""
    stubs = {tenant: as_tenant(secured, tenant) for tenant in TOKENS}
    owned = {}
    for tenant, stub in stubs.items():
        request = scheduler_pb2.SubmitJobRequest(request=solve_request(make_small_problem()))
        owned[tenant] = {stub.SubmitJob(request, timeout=RPC_TIMEOUT).id}

    def listed(tenant: str) -> tuple[str, set[str]]:
        jobs = stubs[tenant].ListJobs(scheduler_pb2.ListJobsRequest(), timeout=RPC_TIMEOUT).jobs
        return tenant, {job.id for job in jobs}

    with ThreadPoolExecutor(max_workers=8) as pool:
        for tenant, seen in pool.map(listed, [*TOKENS] * 20):
            assert seen == owned[tenant], tenant
