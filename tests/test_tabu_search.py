"""The tabu search: consistent with the evaluator, never worse than its start, seeded,
budgeted, stopping on request, and the same with more workers but never worse; and
taking an ejection chain where no move or swap helps."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_incremental import PROBLEMS, assert_agrees, tight

from qsched.formats import hcsp
from qsched.formats.generate import generate
from qsched.model import registry
from qsched.model.evaluate import evaluate
from qsched.model.problem import Problem, ProblemError
from qsched.model.solver import Budget, StopReason
from qsched.search.incremental.schedule import TabuSearch
from qsched.search.list_scheduling import list_schedule

SETTINGS = {"tenure": 5, "patience": 20, "kick": 2, "samples": 2}


@settings(max_examples=40, derandomize=True, deadline=None)
@given(problem=PROBLEMS, seed=st.integers(0, 2**32 - 1))
def test_the_walk_keeps_its_figures_and_its_best_true_to_the_evaluator(problem, seed):
    """Kicks, refused moves and repair phases included, on problems whose capacities,
    deadlines and power cap break all the time."""
    start = list_schedule(problem, "mct")
    search = TabuSearch(problem, start, problem.fastest_levels, **SETTINGS)
    first = evaluate(problem, start, problem.fastest_levels)
    generator = np.array([seed], dtype=np.uint64)
    for _ in range(4):
        search.run(1500, generator)
        assert_agrees(search)
    best = evaluate(problem, search.best_assignment, search.best_levels)
    assert best.key <= first.key or np.isclose(best.objective, first.objective)
    assert search.proposals == 6000


def test_a_chain_shortens_a_schedule_no_move_or_swap_can():
    """Machine 0 ends last at 16 (tasks 0, 1, 4), machine 1 at 15 (2, 5, 6), machine 2 at 9
    (3). Task 4 fits on neither (19, 17), and no swap helps; but with task 6 moving on
    from machine 1 to machine 2 (15) it fits on machine 1 (14): makespan 15, which the
    search finds within 17 candidates. Without chains it needs over 30."""
    etc = np.array(
        [[9, 13, 20], [4, 6, 10], [4, 5, 8], [4, 6, 9], [3, 4, 8], [4, 5, 9], [3, 5, 6]], float
    )
    problem = Problem.from_message(hcsp.etc_problem(etc, "chain"))
    start = np.array([0, 0, 1, 2, 0, 1, 1])
    assert evaluate(problem, start).makespan == 16
    for task in range(7):
        for machine in range(3):
            moved = start.copy()
            moved[task] = machine
            assert evaluate(problem, moved).makespan >= 16
        for other in range(7):
            swapped = start.copy()
            swapped[[task, other]] = start[[other, task]]
            assert evaluate(problem, swapped).makespan >= 16
    search = TabuSearch(problem, start, problem.fastest_levels, **SETTINGS)
    search.run(20, np.array([0], dtype=np.uint64))
    assert evaluate(problem, search.best_assignment).makespan == 15


def test_critical_moves_shorten_a_braun_schedule_well_past_min_min():
    problem = Problem.from_message(hcsp.etc_problem(hcsp.braun_etc(256, 8, 1), "braun"))
    result = registry.solve(problem, "tabu-search", Budget(evaluations=300_000), seed=0)
    min_min = evaluate(problem, list_schedule(problem, "min-min"))
    assert result.evaluation.makespan < min_min.makespan
    assert result.evaluations == 300_000


def test_same_seed_and_evaluation_budget_same_schedule():
    problem = tight(3, 120, 8)

    def run(seed: int) -> list[int]:
        return registry.solve(
            problem, "tabu-search", Budget(evaluations=50_000), seed=seed
        ).evaluation.assignment.tolist()

    assert run(4) == run(4)


def test_a_second_worker_with_its_own_share_never_makes_the_answer_worse():
    """Workers split the evaluation budget; worker 0 of two with twice the budget runs
    exactly the one-worker search, and the best of both answers."""
    problem = Problem.from_message(generate(150, 10, 2))
    alone = registry.solve(problem, "tabu-search", Budget(evaluations=20_000), seed=1)
    budget = Budget(evaluations=40_000)
    paired = registry.solve(problem, "tabu-search", budget, seed=1, options={"workers": 2})
    assert paired.evaluation.key <= alone.evaluation.key
    assert alone.evaluations <= 20_000 and paired.evaluations <= 40_000
    assert paired.facts["workers"] == 2
    again = registry.solve(problem, "tabu-search", budget, seed=1, options={"workers": 2})
    assert again.evaluation.assignment.tolist() == paired.evaluation.assignment.tolist()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_stop_request_ends_the_search_with_its_best_schedule(workers):
    problem = Problem.from_message(generate(2000, 64, 1))
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    result = registry.solve(
        problem,
        "tabu-search",
        Budget(wall_seconds=600, stop=stop),
        seed=0,
        options={"workers": workers},
    )
    assert result.stop_reason == StopReason.CANCELLED
    assert result.elapsed < 60  # the budget was ten minutes
    assert len(result.evaluation.assignment) == problem.num_tasks


def test_tasks_that_take_no_time_somewhere_are_scheduled_like_any_other():
    etc = np.round(hcsp.braun_etc(64, 6, 2, task_heterogeneity="lo"), 0)
    etc[::5, 2] = 0.0
    problem = Problem.from_message(hcsp.etc_problem(etc, "zeros"))
    result = registry.solve(problem, "tabu-search", Budget(evaluations=20_000), seed=0)
    loads = np.bincount(
        result.evaluation.assignment,
        weights=etc[np.arange(64), result.evaluation.assignment],
        minlength=6,
    )
    assert np.isclose(result.evaluation.makespan, loads.max())


@pytest.mark.parametrize("option, value", [("tenure", -1), ("patience", 0), ("workers", 0)])
def test_bad_settings_are_refused_by_field(option, value):
    problem = Problem.from_message(generate(10, 3, 1))
    with pytest.raises(ProblemError) as caught:
        registry.solve(problem, "tabu-search", Budget(evaluations=10), options={option: value})
    assert [v.field for v in caught.value.violations] == [f"options.{option}"]
