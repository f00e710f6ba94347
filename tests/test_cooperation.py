"""The elite pool: every worker reads the same exchange for an epoch, whatever the threads'
timing, and nobody waits for a worker that left or past its own budget."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from qsched.formats import hcsp
from qsched.model import registry
from qsched.model.evaluate import Evaluation, evaluate
from qsched.model.problem import Problem
from qsched.model.solver import Budget
from qsched.search.cooperation import ElitePool
from qsched.search.tracker import SolveTracker
from qsched.testing.contract import check_determinism

PROBLEM = Problem.from_message(hcsp.etc_problem(hcsp.braun_etc(20, 4, 1), "b"))


def schedule(machine: int) -> Evaluation:
    return evaluate(PROBLEM, np.full(PROBLEM.num_tasks, machine))


def tracker(seconds: float | None = None, bound: float | None = None) -> SolveTracker:
    made = SolveTracker(PROBLEM, Budget(wall_seconds=seconds, evaluations=None))
    made.bound = bound
    return made


def test_every_worker_reads_the_same_ranked_exchange_whatever_the_order():
    pool = ElitePool(3)
    mine = [schedule(machine) for machine in (2, 0, 1)]
    bounds = [5.0, None, 7.0]
    seen: dict[int, object] = {}

    def worker(index: int) -> None:
        time.sleep(0.05 * (2 - index))  # the last worker deposits first
        seen[index] = pool.exchange(index, tracker(bound=bounds[index]), mine[index])

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert seen[0] == seen[1] == seen[2]
    exchange = seen[0]
    keys = [elite.key for elite in exchange.elites]
    assert keys == sorted(keys) and len(keys) == 3
    assert exchange.bound == 7.0


def test_a_worker_that_left_is_not_waited_for_but_one_still_searching_is():
    pool = ElitePool(2)
    pool.leave(1)
    exchange = pool.exchange(0, tracker(), schedule(0))
    assert exchange is not None and len(exchange.elites) == 1
    waiting = ElitePool(2)
    started = time.monotonic()
    assert waiting.exchange(0, tracker(seconds=0.3), schedule(0)) is None  # its budget ended
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("evaluations", [3_000, 60_080])
def test_cooperating_workers_give_one_answer_per_seed(evaluations):
    problem = Problem.from_message(hcsp.etc_problem(hcsp.braun_etc(30, 5, 3), "b"))
    check_determinism("matheuristic", problem, evaluations=evaluations, options={"workers": 2})
    result = registry.solve(
        problem, "matheuristic", Budget(evaluations=evaluations), 0, options={"workers": 2}
    )
    assert result.evaluations <= evaluations and result.evaluation.feasible
