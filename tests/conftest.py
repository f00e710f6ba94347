"""Shared fixtures for the gRPC service tests: servers on 127.0.0.1, real channels, problems."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

# The GPU engine's kernels run in numba's CUDA simulator unless QSCHED_TEST_GPU=1 asks for the
# machine's CUDA device; either way the choice is made before anything imports numba.cuda.
if os.environ.get("QSCHED_TEST_GPU") != "1":
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import grpc
import pytest
from service_helpers import BRAUN_PATH, CONNECT_TIMEOUT, make_small_problem

from qsched.formats import files
from qsched.v1 import problem_pb2, scheduler_pb2_grpc


@pytest.fixture
def small_problem() -> problem_pb2.AllocationProblem:
    """A fresh small problem (tests may mutate it)."""
    return make_small_problem()


@pytest.fixture(scope="session")
def _braun_message() -> problem_pb2.AllocationProblem:
    return files.read_message(BRAUN_PATH)


@pytest.fixture
def braun_problem(_braun_message) -> problem_pb2.AllocationProblem:
    """The 512x16 Braun instance as an AllocationProblem (a copy per test)."""
    copy = problem_pb2.AllocationProblem()
    copy.CopyFrom(_braun_message)
    return copy


def _service_imports():
    # Imported lazily so a broken service package fails the service tests, not the collection
    # of every test.
    from qsched.service.config import ServiceConfig
    from qsched.service.server import Server

    return Server, ServiceConfig


@pytest.fixture
def start_server(tmp_path) -> Iterator[Callable[..., object]]:
    """Factory: ``start_server(**config_fields)`` starts a Server on 127.0.0.1:0 with its own db;
    all stop at teardown."""
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
    """Factory: ``connect(server_or_address)`` -> a ready channel, closed at teardown; built by
    the one client factory (`qsched.service.client.connect`), as every client's is."""
    from qsched.service import client  # lazily, as `_service_imports` explains

    channels: list[grpc.Channel] = []

    def open_channel(target, **options) -> grpc.Channel:
        address = target if isinstance(target, str) else target.address
        assert address.startswith("127.0.0.1:"), address
        channel = client.connect(
            address, ready_timeout=CONNECT_TIMEOUT, options=list(options.items())
        )
        channels.append(channel)
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


@pytest.fixture
def server_stub(
    start_server, connect
) -> Callable[..., tuple[object, scheduler_pb2_grpc.SchedulerServiceStub]]:
    """Factory: ``server_stub(**config_fields)`` -> (a server with that config, a stub connected to
    it)."""

    def start(**fields):
        server = start_server(**fields)
        return server, scheduler_pb2_grpc.SchedulerServiceStub(connect(server))

    return start
