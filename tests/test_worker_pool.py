"""The warm worker pool: processes reused across solves, replaced when they die or grow,
and handed out first come, first served."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from service_helpers import make_small_problem

from qsched.model.problem import Problem
from qsched.model.validation import SolveJob
from qsched.service import worker as worker_module
from qsched.service.worker import WorkerPool


def tiny(solver: str = "min-min", seconds: float = 5.0) -> SolveJob:
    return SolveJob(Problem.from_message(make_small_problem()), solver, seconds, None, 0)


@pytest.fixture
def pool():
    started = WorkerPool(1, grace_seconds=1.0).start()
    yield started
    started.close()


def solve(pool: WorkerPool, job: SolveJob, **hooks):
    outcome = pool.run(job, stop=threading.Event(), **hooks)
    assert outcome.result is not None, outcome.error
    return outcome.result


def test_workers_are_reused_across_solves(pool: WorkerPool) -> None:
    (pid,) = pool.worker_pids()
    for _ in range(5):
        solve(pool, tiny())
    assert pool.worker_pids() == [pid]


def test_a_worker_that_died_while_idle_is_replaced_before_the_next_solve(pool) -> None:
    (pid,) = pool.worker_pids()
    os.kill(pid, signal.SIGKILL)
    stat = Path(f"/proc/{pid}/stat")
    deadline = time.monotonic() + 5
    while stat.exists() and stat.read_text().split()[2] != "Z":  # until it is a zombie
        assert time.monotonic() < deadline, "the killed worker did not die"
        time.sleep(0.01)
    solve(pool, tiny())  # no failed solve: the dead worker is never handed out
    assert pool.worker_pids() != [pid] and len(pool.worker_pids()) == 1


def test_a_worker_grown_past_the_memory_limit_is_replaced(pool, monkeypatch) -> None:
    (pid,) = pool.worker_pids()
    monkeypatch.setattr(worker_module, "MAX_WORKER_RSS_BYTES", 1)
    solve(pool, tiny())
    (fresh,) = pool.worker_pids()
    assert fresh != pid


def test_calls_get_the_worker_in_the_order_they_came(pool: WorkerPool) -> None:
    started: list[str] = []
    busy = threading.Thread(target=solve, args=(pool, tiny("local-search", 1.0)))
    busy.start()
    while not pool.active_pids():
        time.sleep(0.01)
    callers = []
    for name in ("first", "second", "third"):

        def call(name: str = name) -> None:
            solve(pool, tiny(), on_start=lambda: started.append(name) or True)

        thread = threading.Thread(target=call)
        thread.start()
        callers.append(thread)
        time.sleep(0.1)  # arrive one after another while the worker is busy
    for thread in [busy, *callers]:
        thread.join(timeout=30)
    assert started == ["first", "second", "third"]
