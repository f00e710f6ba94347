"""The LP relaxation start: a true relaxation, rounded into a full schedule."""

from __future__ import annotations

import numpy as np
import pytest

from qsched.formats import hcsp
from qsched.formats.generate import generate
from qsched.model import registry
from qsched.model.problem import Problem
from qsched.model.solver import Budget
from qsched.search import relaxation
from qsched.search.assignment_mip import AssignmentModel, Cells, new_highs
from qsched.search.construct import heuristic_start
from qsched.search.list_scheduling import fastest_runtimes
from qsched.search.tracker import SolveTracker


def braun(tasks: int, machines: int, seed: int) -> Problem:
    return Problem.from_message(hcsp.etc_problem(hcsp.braun_etc(tasks, machines, seed), "b"))


@pytest.mark.parametrize("seed", range(4))
def test_the_lp_bound_is_below_the_optimum_and_the_rounding_keeps_whole_tasks(seed):
    problem = braun(7, 3, seed)
    solved = relaxation.solve_relaxation(problem, None)
    assert solved is not None
    x, value = solved.x, solved.value
    assert np.allclose(x.sum(axis=1), 1) and (x >= -1e-9).all()
    assert np.isclose((x * problem.etc).sum(axis=0).max(), value)
    optimum = registry.solve(problem, "exhaustive").evaluation.makespan
    bound = relaxation.lp_bound(problem)
    assert bound is not None and bound <= value <= optimum * (1 + 1e-9)
    assignment = relaxation.rounded(problem, x)
    whole = x.max(axis=1) >= relaxation.WHOLE
    assert (assignment[whole] == x.argmax(axis=1)[whole]).all()
    assert ((assignment >= 0) & (assignment < problem.num_machines)).all()


def test_the_lp_keeps_capacities_and_its_split_tasks_are_few():
    problem = Problem.from_message(generate(60, 6, 3))
    solved = relaxation.solve_relaxation(problem, None)
    assert solved is not None
    x = solved.x
    load = x.T @ problem.demand
    assert (load <= problem.capacity * (1 + 1e-6) + 1e-6).all()
    rows = problem.num_tasks + problem.num_machines * (1 + problem.capacity.shape[1])
    assert (x.max(axis=1) < relaxation.WHOLE).sum() <= rows - problem.num_tasks


def test_a_problem_too_large_for_the_lp_starts_from_min_min(monkeypatch):
    monkeypatch.setattr(relaxation, "MAX_CELLS", 10)
    tracker = SolveTracker(braun(20, 4, 1), Budget(evaluations=100))
    heuristic_start(tracker, "lp")
    assert [point.stage for point in tracker.trace][-1] in ("first", "construct")
    assert "lp" not in tracker.stage_seconds


def test_the_lp_start_is_scored_as_its_own_stage():
    tracker = SolveTracker(braun(40, 4, 2), Budget(evaluations=100))
    start = heuristic_start(tracker, "lp")
    assert start.feasible
    assert "lp" in tracker.stage_seconds
    assert tracker.best is not None and tracker.best.makespan <= start.makespan


def test_the_lp_bound_is_reported_only_where_it_bounds_the_objective():
    """Generated problems price energy at several DVFS levels: the LP at the fastest ones
    bounds nothing there."""
    energy_aware = Problem.from_message(generate(30, 4, 1))
    assert relaxation.lp_bound(energy_aware) is None
    result = registry.solve(energy_aware, "tabu-search", Budget(evaluations=2000))
    assert result.bound is None
    makespan_only = braun(60, 5, 3)
    result = registry.solve(makespan_only, "tabu-search", Budget(evaluations=20_000))
    assert result.bound is not None and result.bound <= result.evaluation.objective


def _full_lp_value(problem: Problem) -> float:
    """The LP over every cell at once, as HiGHS solves it without pricing."""
    runtimes = fastest_runtimes(problem)
    model = AssignmentModel(problem, runtimes, Cells.all(*runtimes.shape), integer=False)
    highs = new_highs()
    highs.passModel(model.lp)
    highs.run()
    return float(highs.getInfo().objective_function_value)


@pytest.mark.parametrize(
    "problem",
    [braun(300, 12, 5), Problem.from_message(generate(80, 8, 2))],
    ids=["makespan", "energy-and-capacities"],
)
def test_column_pricing_reaches_the_full_lps_optimum(problem):
    solved = relaxation.solve_relaxation(problem, None)
    assert solved is not None and solved.optimal
    assert solved.value == pytest.approx(_full_lp_value(problem), rel=1e-7)
    assert (solved.reduced_cost >= -1e-6 * (1 + abs(solved.value))).all()


def test_an_lp_cut_short_still_bounds_the_optimum_from_below():
    problem = braun(600, 24, 6)
    stopped_after_a_round = relaxation.solve_relaxation(problem, 1e-4)
    if stopped_after_a_round is not None:
        assert stopped_after_a_round.value <= _full_lp_value(problem) * (1 + 1e-9)
    stop_at_once = relaxation.solve_relaxation(problem, None, should_stop=lambda: True)
    assert stop_at_once is None or not stop_at_once.optimal
