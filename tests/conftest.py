"""Shared fixtures for the gRPC service tests: servers on 127.0.0.1, real channels, problems."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from qsched import io as qio
from qsched.v1 import problem_pb2, scheduler_pb2_grpc

ROOT = Path(__file__).resolve().parents[1]
#: The Braun et al. 512x16 consistent high/high instance; Min-min reaches 8460675.0 on it.
BRAUN_PATH = ROOT / "datasets" / "hcsp" / "512x16" / "u_c_hihi.0"
BRAUN_MIN_MIN_MAKESPAN = 8460675.0

#: Deadline for one unary call that should answer at once (worker start included).
RPC_TIMEOUT = 20.0
#: How long to wait for a channel to connect.
CONNECT_TIMEOUT = 10.0


def make_small_problem(name: str = "small") -> problem_pb2.AllocationProblem:
    """6 tasks x 3 machines: work/speed runtimes, cpu/memory demands within capacities, linear power."""
    machines = [
        problem_pb2.Machine(
            id="m0", speed=1.0, capacity={"cpu": 4, "memory": 8},
            linear_power=problem_pb2.LinearPower(idle_watts=50, peak_watts=150),
        ),
        problem_pb2.Machine(
            id="m1", speed=2.0, capacity={"cpu": 4, "memory": 8},
            linear_power=problem_pb2.LinearPower(idle_watts=80, peak_watts=250),
        ),
        problem_pb2.Machine(
            id="m2", speed=4.0, capacity={"cpu": 2, "memory": 4},
            linear_power=problem_pb2.LinearPower(idle_watts=120, peak_watts=400),
        ),
    ]
    works = [4.0, 8.0, 2.0, 6.0, 3.0, 5.0]
    tasks = [
        problem_pb2.Task(id=f"t{i}", work=work, demand={"cpu": 1.0, "memory": 1.0 + i % 2})
        for i, work in enumerate(works)
    ]
    return problem_pb2.AllocationProblem(
        name=name,
        tasks=tasks,
        machines=machines,
        objective=problem_pb2.Objective(makespan_weight=1.0),
    )


@pytest.fixture
def small_problem() -> problem_pb2.AllocationProblem:
    """A fresh small problem (tests may mutate it)."""
    return make_small_problem()


@pytest.fixture(scope="session")
def _braun_message() -> problem_pb2.AllocationProblem:
    return qio.read_message(BRAUN_PATH)


@pytest.fixture
def braun_problem(_braun_message) -> problem_pb2.AllocationProblem:
    """The 512x16 Braun instance as an AllocationProblem (a copy per test)."""
    copy = problem_pb2.AllocationProblem()
    copy.CopyFrom(_braun_message)
    return copy


def _service_imports():
    # Imported lazily so a broken service package fails the service tests, not collection of every test.
    from qsched.service.config import ServiceConfig
    from qsched.service.server import Server

    return Server, ServiceConfig


@pytest.fixture
def start_server(tmp_path) -> Iterator[Callable[..., object]]:
    """Factory: ``start_server(**config_fields)`` starts a Server on 127.0.0.1:0 with its own db; all stop at teardown."""
    Server, ServiceConfig = _service_imports()
    started = []

    def start(db_name: str = "jobs.db", **fields):
        config = ServiceConfig(**{"workers": 2, "grace_seconds": 1.0, **fields})
        server = Server("127.0.0.1:0", tmp_path / db_name, config).start()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop(grace=0.5)


@pytest.fixture
def server(start_server):
    """A running server: 2 workers, 1 s grace, default limits."""
    return start_server()


@pytest.fixture
def connect() -> Iterator[Callable[..., grpc.Channel]]:
    """Factory: ``connect(server_or_address)`` -> a ready channel, closed at teardown."""
    channels: list[grpc.Channel] = []

    def open_channel(target, **options) -> grpc.Channel:
        address = target if isinstance(target, str) else target.address
        assert address.startswith("127.0.0.1:"), address
        channel = grpc.insecure_channel(address, options=list(options.items()))
        channels.append(channel)
        grpc.channel_ready_future(channel).result(timeout=CONNECT_TIMEOUT)
        return channel

    yield open_channel
    for channel in channels:
        channel.close()


@pytest.fixture
def channel(server, connect) -> grpc.Channel:
    return connect(server)


@pytest.fixture
def stub(channel) -> scheduler_pb2_grpc.SchedulerServiceStub:
    return scheduler_pb2_grpc.SchedulerServiceStub(channel)
