"""Bearer tokens and client certificates: tenants see only their own jobs, scopes gate RPCs."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
import trustme
from grpc_health.v1 import health_pb2, health_pb2_grpc
from service_helpers import make_small_problem, write_pair

from qsched.service.auth import Authenticator, BearerToken, digest
from qsched.service.config import ServiceConfig
from qsched.service.server import Server
from qsched.service.tls import ClientTLS, ServerTLS, channel
from qsched.v1 import scheduler_pb2, scheduler_pb2_grpc

TIMEOUT = 20
TOKENS = {"alice": "alice-token-1", "bob": "bob-token-2", "ops": "ops-token-3"}


def token_file(path: Path) -> Path:
    tenants = [
        {
            "name": "team-a",
            "scopes": ["submit", "read", "cancel"],
            "tokens_sha256": [digest(TOKENS["alice"])],
        },
        {
            "name": "team-b",
            "scopes": ["read"],
            "tokens_sha256": [digest(TOKENS["bob"])],
            "clients": ["b-robot"],
        },
        {"name": "ops", "scopes": ["admin"], "tokens_sha256": [digest(TOKENS["ops"])]},
    ]
    path.write_text(json.dumps({"tenants": tenants}))
    return path


@pytest.fixture
def secured(tmp_path: Path):
    auth = Authenticator.from_file(token_file(tmp_path / "tokens.json"))
    config = ServiceConfig(workers=1, grace_seconds=1.0)
    with Server(
        "127.0.0.1:0", tmp_path / "jobs.db", config, auth=auth, reflection_on=False
    ) as server:
        yield server


def stub(server: Server, who: str | None) -> scheduler_pb2_grpc.SchedulerServiceStub:
    opened = channel(server.address, None)
    if who is not None:
        opened = grpc.intercept_channel(opened, BearerToken(TOKENS.get(who, who)))
    return scheduler_pb2_grpc.SchedulerServiceStub(opened)


def code_of(call, *args) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as error:
        call(*args, timeout=TIMEOUT)
    return error.value.code()


def submit(as_stub) -> scheduler_pb2.Job:
    request = scheduler_pb2.SolveRequest(problem=make_small_problem(), solver="min-min")
    return as_stub.SubmitJob(scheduler_pb2.SubmitJobRequest(request=request), timeout=TIMEOUT)


def test_calls_without_valid_credentials_are_unauthenticated(secured: Server) -> None:
    listing = scheduler_pb2.ListJobsRequest()
    assert code_of(stub(secured, None).ListJobs, listing) == grpc.StatusCode.UNAUTHENTICATED
    assert (
        code_of(stub(secured, "not-a-token").ListJobs, listing) == grpc.StatusCode.UNAUTHENTICATED
    )
    # Health stays open.
    health = health_pb2_grpc.HealthStub(channel(secured.address, None))
    answer = health.Check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_tenants_see_and_cancel_only_their_own_jobs(secured: Server) -> None:
    alice, bob, ops = stub(secured, "alice"), stub(secured, "bob"), stub(secured, "ops")
    job = submit(alice)
    get = scheduler_pb2.GetJobRequest(job_id=job.id, include_request=True)
    assert alice.GetJob(get, timeout=TIMEOUT).id == job.id
    assert code_of(bob.GetJob, get) == grpc.StatusCode.NOT_FOUND  # not even its existence
    assert [
        j.id for j in alice.ListJobs(scheduler_pb2.ListJobsRequest(), timeout=TIMEOUT).jobs
    ] == [job.id]
    assert list(bob.ListJobs(scheduler_pb2.ListJobsRequest(), timeout=TIMEOUT).jobs) == []
    assert [j.id for j in ops.ListJobs(scheduler_pb2.ListJobsRequest(), timeout=TIMEOUT).jobs] == [
        job.id
    ]
    watch = scheduler_pb2.WatchJobRequest(job_id=job.id)
    assert (
        code_of(lambda r, timeout: list(bob.WatchJob(r, timeout=timeout)), watch)
        == grpc.StatusCode.NOT_FOUND
    )


def test_scopes_gate_each_rpc(secured: Server) -> None:
    bob = stub(secured, "bob")  # read only
    request = scheduler_pb2.SolveRequest(problem=make_small_problem(), solver="min-min")
    assert code_of(bob.Solve, request) == grpc.StatusCode.PERMISSION_DENIED
    assert (
        code_of(bob.SubmitJob, scheduler_pb2.SubmitJobRequest(request=request))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    job = submit(stub(secured, "alice"))
    cancel = scheduler_pb2.CancelJobRequest(job_id=job.id)
    assert code_of(bob.CancelJob, cancel) == grpc.StatusCode.PERMISSION_DENIED
    assert bob.ListSolvers(scheduler_pb2.ListSolversRequest(), timeout=TIMEOUT).solvers


def test_quantum_hardware_needs_its_own_scope(secured: Server) -> None:
    alice = stub(secured, "alice")
    field = scheduler_pb2.SolveRequest(
        problem=make_small_problem(), solver="qaoa", backend="ibm:ibm_torino"
    )
    option = scheduler_pb2.SolveRequest(problem=make_small_problem(), solver="qaoa")
    option.options.update({"backend": "ibm:ibm_torino"})  # the same backend, as an option
    for request in (field, option):
        assert code_of(alice.Solve, request) == grpc.StatusCode.PERMISSION_DENIED
        submission = scheduler_pb2.SubmitJobRequest(request=request)
        assert code_of(alice.SubmitJob, submission) == grpc.StatusCode.PERMISSION_DENIED


def test_reflection_can_be_switched_off(secured: Server) -> None:
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    reflect = reflection_pb2_grpc.ServerReflectionStub(channel(secured.address, None))
    ask = reflection_pb2.ServerReflectionRequest(list_services="")
    with pytest.raises(grpc.RpcError) as off:
        list(reflect.ServerReflectionInfo(iter([ask]), timeout=TIMEOUT))
    assert off.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_a_client_certificate_names_the_tenant(tmp_path: Path) -> None:
    authority = trustme.CA()
    ca = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(ca)
    server_cert, server_key = write_pair(authority.issue_cert("127.0.0.1"), tmp_path, "server")
    robot_cert, robot_key = write_pair(authority.issue_cert("b-robot"), tmp_path, "robot")
    auth = Authenticator.from_file(token_file(tmp_path / "tokens.json"))
    tls = ServerTLS(server_cert, server_key, client_ca=ca)
    with Server("127.0.0.1:0", tmp_path / "jobs.db", tls=tls, auth=auth) as server:
        robot = scheduler_pb2_grpc.SchedulerServiceStub(
            channel(server.address, ClientTLS(ca, robot_cert, robot_key))
        )
        assert robot.ListSolvers(
            scheduler_pb2.ListSolversRequest(), timeout=TIMEOUT
        ).solvers  # team-b reads
        request = scheduler_pb2.SolveRequest(problem=make_small_problem(), solver="min-min")
        assert code_of(robot.Solve, request) == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        ("[]", "needs a list `tenants`"),
        ('{"tenants": [{"scopes": []}]}', "name must be a non-empty string"),
        ('{"tenants": [{"name": "a", "scopes": ["root"]}]}', "scopes must be a list of"),
        ('{"tenants": [{"name": "a", "tokens_sha256": ["secret"]}]}', "not a hex SHA-256 digest"),
    ],
)
def test_a_bad_token_file_is_refused_without_echoing_it(
    tmp_path: Path, document: str, complaint: str
) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(document)
    with pytest.raises(ValueError, match="tenants") as refused:
        Authenticator.from_file(path)
    assert complaint in str(refused.value) and "secret" not in str(refused.value)
