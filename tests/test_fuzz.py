"""A seeded property-based fuzz of every RPC: hostile bytes and hostile values, about 2,100
requests in all. No answer may be INTERNAL or UNKNOWN, and the server serves on afterwards."""

from __future__ import annotations

import math

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qsched.v1 import problem_pb2, scheduler_pb2, scheduler_pb2_grpc

#: Each call's deadline: a request that happens to be valid is answered by then with its best.
CALL_SECONDS = 1.5
FORBIDDEN = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
METHODS = (
    "Solve", "Compare", "SubmitJob", "GetJob", "WatchJob", "CancelJob", "ListJobs", "ListSolvers",
)  # fmt: skip


def fuzz(examples: int) -> settings:
    """Seeded, no per-example deadline (a valid request may run a solve)."""
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


numbers = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -1.0, 1e308, -1e308, 5e-324, math.nan, math.inf, -math.inf]
)
texts = st.text(max_size=12) | st.sampled_from(["", "x" * 300, "\x00", "é" * 100, "m0", "t0"])
names = st.sampled_from(["m0", "m1", "t0", "", "cpu", "memory"]) | texts
value_maps = st.dictionaries(names, numbers, max_size=3)
solvers = st.sampled_from(["", "min-min", "mct", "local-search", "tabu-search", "ga", "qaoa"])
solvers |= texts


@st.composite
def problems(draw) -> problem_pb2.AllocationProblem:
    message = problem_pb2.AllocationProblem(name=draw(texts))
    for _ in range(draw(st.integers(0, 3))):
        machine = message.machines.add(id=draw(names), speed=draw(numbers))
        machine.capacity.update(draw(value_maps))
        power = draw(st.sampled_from(["none", "linear", "spec"]))
        if power == "linear":
            machine.linear_power.idle_watts, machine.linear_power.peak_watts = (
                draw(numbers),
                draw(numbers),
            )
        elif power == "spec":
            machine.spec_power.watts.extend(draw(st.lists(numbers, max_size=12)))
        for frequency in draw(st.lists(numbers, max_size=3)):
            machine.dvfs_levels.add(frequency=frequency)
    for _ in range(draw(st.integers(0, 4))):
        task = message.tasks.add(id=draw(names))
        if draw(st.booleans()):
            task.work = draw(numbers)
        else:
            task.etc.update(draw(value_maps))
        task.demand.update(draw(value_maps))
        if draw(st.booleans()):
            task.deadline = draw(numbers)
        if draw(st.booleans()):
            task.load = draw(numbers)
    if draw(st.booleans()):
        message.power_cap_watts = draw(numbers)
    message.objective.energy_weight = draw(numbers)
    message.objective.makespan_weight = draw(numbers)
    return message


@st.composite
def solve_requests(draw) -> scheduler_pb2.SolveRequest:
    request = scheduler_pb2.SolveRequest(
        problem=draw(problems()),
        solver=draw(solvers),
        backend=draw(st.sampled_from(["", "engine", "aer", "ibm:x", "fake_torino"]) | texts),
        seed=draw(st.integers(0, 2**64 - 1)),
    )
    request.budget.wall_seconds = draw(numbers)
    request.budget.evaluations = draw(st.integers(0, 2**64 - 1))
    request.options.update(
        draw(st.dictionaries(texts, numbers | texts | st.booleans(), max_size=2))
    )
    return request


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    """One server for the whole fuzz (1 worker, a short queue), and a stub on it."""
    from qsched.service.client import connect
    from qsched.service.config import ServiceConfig
    from qsched.service.server import Server

    config = ServiceConfig(workers=1, max_queued_jobs=5, grace_seconds=0.5)
    with Server("127.0.0.1:0", tmp_path_factory.mktemp("fuzz") / "jobs.db", config) as server:
        channel = connect(server.address)
        yield channel, scheduler_pb2_grpc.SchedulerServiceStub(channel)
        health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        channel.close()


def answered(call, request) -> None:
    """Call, and check the status is a deliberate one."""
    try:
        result = call(request, timeout=CALL_SECONDS)
        if not hasattr(result, "ByteSize"):
            list(result)
    except grpc.RpcError as error:
        assert error.code() not in FORBIDDEN, (error.code(), error.details())


@fuzz(400)
@given(method=st.sampled_from(METHODS), data=st.binary(max_size=64))
def test_hostile_bytes(fuzzed, method, data) -> None:
    channel, _ = fuzzed
    path = f"/qsched.v1.SchedulerService/{method}"
    call = (channel.unary_stream if method == "WatchJob" else channel.unary_unary)(path)
    answered(call, data)


@fuzz(700)
@given(request=solve_requests())
def test_hostile_solves(fuzzed, request) -> None:
    answered(fuzzed[1].Solve, request)


@fuzz(350)
@given(request=solve_requests())
def test_hostile_submissions(fuzzed, request) -> None:
    answered(fuzzed[1].SubmitJob, scheduler_pb2.SubmitJobRequest(request=request))


@fuzz(250)
@given(request=solve_requests(), others=st.lists(solvers, max_size=3))
def test_hostile_comparisons(fuzzed, request, others) -> None:
    compare = scheduler_pb2.CompareRequest(
        problem=request.problem,
        solvers=[request.solver, *others],
        backend=request.backend,
        budget=request.budget,
        seed=request.seed,
        options=request.options,
    )
    answered(fuzzed[1].Compare, compare)


@fuzz(450)
@given(
    method=st.sampled_from(["GetJob", "WatchJob", "CancelJob", "ListJobs", "ListSolvers"]),
    job_id=texts | st.text(min_size=60, max_size=70),
    number=st.integers(-(2**31), 2**32 - 1),
    flag=st.booleans(),
)
def test_hostile_job_queries(fuzzed, method, job_id, number, flag) -> None:
    stub = fuzzed[1]
    request = {
        "GetJob": lambda: scheduler_pb2.GetJobRequest(job_id=job_id, include_request=flag),
        "WatchJob": lambda: scheduler_pb2.WatchJobRequest(job_id=job_id),
        "CancelJob": lambda: scheduler_pb2.CancelJobRequest(job_id=job_id),
        "ListJobs": lambda: scheduler_pb2.ListJobsRequest(
            state=number % 8, page_size=abs(number) % 5000, page_token=job_id
        ),
        "ListSolvers": scheduler_pb2.ListSolversRequest,
    }[method]()
    answered(getattr(stub, method), request)
