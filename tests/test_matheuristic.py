"""The matheuristic: exact where its neighbourhood is the whole problem, never worse than its
start, and quick to stop at cluster size. (Every registered solver's contract, determinism
for a seed and an evaluation budget included, is in test_contract.)"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qsched.formats import hcsp
from qsched.model import registry
from qsched.model.problem import Problem
from qsched.model.solver import Budget
from qsched.search.construct import heuristic_start
from qsched.search.list_scheduling import fastest_runtimes
from qsched.search.matheuristic import SLACK_MACHINES, freed_tasks, promising_cells, slack_cells
from qsched.search.relaxation import solve_relaxation_once
from qsched.search.tracker import SolveTracker
from qsched.testing.contract import check_stop


def braun(tasks: int, machines: int, seed: int) -> Problem:
    return Problem.from_message(hcsp.etc_problem(hcsp.braun_etc(tasks, machines, seed), "b"))


@pytest.mark.parametrize("seed", range(3))
def test_a_neighbourhood_of_every_machine_finds_the_optimum(seed):
    problem = braun(8, 3, seed)
    optimum = registry.solve(problem, "exhaustive").evaluation.makespan
    result = registry.solve(
        problem, "matheuristic", Budget(evaluations=200), seed, options={"size": 3}
    )
    assert result.evaluation.makespan == pytest.approx(optimum)


@pytest.mark.parametrize("start", ["lp", "min-min"])
def test_it_never_answers_worse_than_its_start(start):
    problem = braun(120, 8, 3)
    tracker = SolveTracker(problem, Budget(evaluations=10_000))
    first = heuristic_start(tracker, start)
    result = registry.solve(
        problem, "matheuristic", Budget(evaluations=300), 1, options={"start": start}
    )
    assert result.evaluation.feasible
    assert result.evaluation.objective <= first.objective * (1 + 1e-12)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 1_000), most=st.integers(1, 30), size=st.integers(2, 5))
def test_a_neighbourhood_frees_at_most_so_many_tasks_a_machine_the_cheapest_to_move(
    seed, most, size
):
    problem = braun(120, 6, seed)
    runtimes = fastest_runtimes(problem)
    rng = np.random.default_rng(seed)
    assignment = rng.choice(6, 120, p=[0.5, 0.3, 0.05, 0.05, 0.05, 0.05]).astype(np.int64)
    machines = rng.choice(6, size, replace=False).astype(np.int64)
    freed = freed_tasks(runtimes, assignment, machines, most)
    assert (np.diff(freed) > 0).all() and np.isin(assignment[freed], machines).all()
    for machine in machines:
        on = np.flatnonzero(assignment == machine)
        chosen = np.intersect1d(freed, on)
        assert len(chosen) == min(most, len(on))
        others = machines[machines != machine]
        loss = runtimes[np.ix_(on, others)].min(axis=1) / runtimes[on, machine]
        kept = loss[np.isin(on, chosen)]
        left = loss[~np.isin(on, chosen)]
        assert len(left) == 0 or kept.max() <= left.min()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 1_000), free=st.integers(1, 30), machines=st.integers(1, 8))
def test_slack_frees_a_few_tasks_on_every_machine_each_on_its_own_and_a_few_others(
    seed, free, machines
):
    problem = braun(120, machines, seed)
    runtimes = fastest_runtimes(problem)
    rng = np.random.default_rng(seed)
    assignment = rng.integers(0, machines, 120).astype(np.int64)
    cells = slack_cells(runtimes, assignment, free, rng)
    freed = np.flatnonzero(cells.any(axis=1))
    assert cells[freed, assignment[freed]].all()
    assert (cells[freed].sum(axis=1) <= SLACK_MACHINES + 1).all()
    assert (cells[freed].sum(axis=1) >= min(SLACK_MACHINES, machines)).all()
    on = np.bincount(assignment, minlength=machines)
    chosen = np.bincount(assignment[freed], minlength=machines)
    assert (chosen == np.minimum(free, on)).all()


def test_the_size_reduction_keeps_each_tasks_own_and_cheapest_machines():
    problem = braun(200, 10, 4)
    tracker = SolveTracker(problem, Budget(evaluations=100))
    start = heuristic_start(tracker, "min-min")
    allowed = promising_cells(tracker, start.assignment, candidates=3)
    tasks = np.arange(problem.num_tasks)
    assert allowed[tasks, start.assignment].all()
    assert (allowed.sum(axis=1) >= 3).all()
    relaxation = solve_relaxation_once(tracker)
    assert relaxation is not None
    assert allowed[relaxation.x > 0].all()  # every cell the LP uses
    cheapest = relaxation.reduced_cost.argmin(axis=1)
    assert allowed[tasks, cheapest].all()


@pytest.mark.parametrize("delay", [0.3, 1.5])
def test_a_stop_ends_it_within_half_a_second_at_cluster_size(delay):
    """At 2,048 x 64 the stop lands in the LP, the tabu burst or a MIP, each of which looks
    at it within milliseconds."""
    check_stop("matheuristic", braun(2048, 64, 7), delay=delay, grace=0.5, evaluations=50)
