"""The solver contract: registry, budgets, determinism, progress, stop signal."""

import itertools
import threading
import time

import numpy as np
import pytest

from qsched.formats.generate import generate
from qsched.model import registry
from qsched.model.problem import Problem, ProblemError
from qsched.model.solver import Budget, StopReason
from qsched.testing.contract import check_stop, check_wall_budget


@pytest.fixture(scope="module")
def problem():
    return Problem.from_message(generate(30, 5, seed=4))


SEARCHES = ["local-search", "ga", "pso", "aco"]


def test_builtin_solvers_are_registered_with_kinds():
    specs = {spec.name: spec for spec in registry.available()}
    assert {"min-min", "max-min", "sufferage", "local-search", "ga", "pso", "aco", "milp"} <= set(
        specs
    )
    assert specs["milp"].kind is registry.SolverKind.EXACT and specs["milp"].finite
    assert all(specs[name].kind is registry.SolverKind.METAHEURISTIC for name in SEARCHES)
    assert specs["min-min"].kind is registry.SolverKind.HEURISTIC and specs["min-min"].finite
    assert (
        specs["local-search"].kind is registry.SolverKind.METAHEURISTIC
        and not specs["local-search"].finite
    )
    assert "start" in specs["local-search"].options


def test_unknown_solver_and_option_are_rejected(problem):
    with pytest.raises(registry.UnknownSolverError, match="known: "):
        registry.solve(problem, "no-such-solver")
    with pytest.raises(ProblemError, match="options.depth"):
        registry.solve(problem, "min-min", options={"depth": 3})
    with pytest.raises(ProblemError, match="options.start"):
        registry.solve(problem, "local-search", Budget(evaluations=5), options={"start": "random"})


@pytest.mark.parametrize("solver", ["min-min", "max-min", "sufferage", *SEARCHES])
def test_same_seed_and_evaluation_budget_give_the_same_schedule(problem, solver):
    runs = [registry.solve(problem, solver, Budget(evaluations=400), seed=11) for _ in range(2)]
    assert np.array_equal(runs[0].evaluation.assignment, runs[1].evaluation.assignment)
    assert np.array_equal(runs[0].evaluation.levels, runs[1].evaluation.levels)
    assert runs[0].evaluation.objective == runs[1].evaluation.objective
    assert runs[0].evaluations == runs[1].evaluations
    assert [p.objective for p in runs[0].trace] == [p.objective for p in runs[1].trace]


@pytest.mark.parametrize("solver", SEARCHES)
def test_searches_spend_their_evaluation_budget_and_beat_their_greedy_start(problem, solver):
    result = registry.solve(problem, solver, Budget(evaluations=600), seed=5)
    start = registry.solve(problem, "min-min").evaluation
    assert result.evaluations == 600
    assert result.stop_reason is StopReason.BUDGET
    assert result.evaluation.key < start.key
    first = registry.solve(problem, "mct").evaluation  # scored before anything else
    assert result.trace[0].stage == "first" and result.trace[0].objective == first.objective


def test_other_seeds_search_differently(problem):
    runs = [registry.solve(problem, "ga", Budget(evaluations=300), seed=seed) for seed in (1, 2)]
    assert [p.objective for p in runs[0].trace] != [p.objective for p in runs[1].trace]


def test_local_search_spends_exactly_its_evaluation_budget_and_improves(problem):
    result = registry.solve(problem, "local-search", Budget(evaluations=500), seed=2)
    start = registry.solve(problem, "min-min")
    assert result.evaluations == 500
    assert result.stop_reason is StopReason.BUDGET
    assert result.evaluation.key <= start.evaluation.key
    assert result.evaluation.feasible  # min-min at full speed breaks the cap; the search fixes it


@pytest.mark.parametrize("solver", SEARCHES)
def test_wall_budget_ends_within_a_small_margin(problem, solver):
    registry.get(
        solver
    )  # imported before the clock starts: the budget covers the solve, not the import
    started = time.perf_counter()
    result = registry.solve(problem, solver, Budget(wall_seconds=1.0))
    assert 1.0 <= time.perf_counter() - started < 1.3
    assert result.stop_reason is StopReason.BUDGET


def test_trace_and_progress_record_each_improvement(problem):
    events = []
    result = registry.solve(
        problem, "local-search", Budget(evaluations=300), seed=3, progress=events.append
    )
    assert [e.point for e in events] == list(result.trace)
    keys = [(not p.feasible, p.objective) for p in result.trace]
    assert all(
        later[0] < earlier[0] or later <= earlier for earlier, later in itertools.pairwise(keys)
    )
    assert result.trace[0].stage == "first"
    assert np.array_equal(events[-1].assignment, result.evaluation.assignment)


def test_stop_signal_ends_the_search_with_the_best_so_far(problem):
    stop = threading.Event()
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    result = registry.solve(problem, "local-search", Budget(wall_seconds=30, stop=stop))
    timer.join()
    assert result.stop_reason is StopReason.CANCELLED
    assert result.elapsed < 5


@pytest.mark.parametrize("wall, evaluations", [(0.0, None), (-1.0, None), (None, 0)])
def test_budget_rejects_nonsense(wall, evaluations):
    with pytest.raises(ValueError):
        Budget(wall, evaluations)


def test_local_search_on_one_machine_tunes_its_dvfs_level():
    message = generate(6, 1, seed=2)
    result = registry.solve(Problem.from_message(message), "local-search", Budget(evaluations=50))
    assert result.evaluations == 50
    assert result.evaluation.levels.shape == (1,)


def test_a_solver_without_an_end_needs_a_budget(problem):
    with pytest.raises(ValueError, match="give wall_seconds or evaluations"):
        registry.solve(problem, "local-search")


def test_milp_wall_budget_ends_within_a_small_margin():
    problem = Problem.from_message(generate(60, 8, seed=3))
    registry.get("milp")  # pyomo is imported before the clock starts
    started = time.perf_counter()
    result = registry.solve(problem, "milp", Budget(wall_seconds=1.0))
    # Building the model (not interruptible) is ~0.3 s here idle, about twice that under load.
    assert time.perf_counter() - started < 2.5
    assert result.trace[0].stage == "first"


@pytest.mark.parametrize("solver", SEARCHES)
@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(dict(tasks=5, machines=1), id="one-machine"),
        pytest.param(dict(tasks=1, machines=3), id="one-task"),
        pytest.param(
            dict(tasks=6, machines=3, single_level=True, no_resources=True),
            id="no-levels-no-resources",
        ),
    ],
)
def test_searches_handle_degenerate_problems(solver, shape):
    message = generate(shape["tasks"], shape["machines"], seed=1)
    for machine in message.machines:
        if shape.get("single_level"):
            del machine.dvfs_levels[1:]
        if shape.get("no_resources"):
            machine.capacity.clear()
    if shape.get("no_resources"):
        for task in message.tasks:
            task.demand.clear()
    result = registry.solve(Problem.from_message(message), solver, Budget(evaluations=60), seed=1)
    assert result.evaluations <= 60
    assert result.evaluation.assignment.shape == (shape["tasks"],)


def test_whole_number_options_arrive_as_int(problem):
    result = registry.solve(
        problem, "aco", Budget(evaluations=50), options={"ants": 3.0, "polish_steps": 10.0}
    )
    assert result.facts["ants"] == 3 and isinstance(result.facts["ants"], int)
    with pytest.raises(ProblemError, match="options.ants"):
        registry.solve(problem, "aco", Budget(evaluations=50), options={"ants": 2.5})


def test_aco_answers_a_stop_and_its_budget_inside_a_batch_of_ants():
    """400 ants on 2,000 x 64 take seconds to build one batch (one task position at a time
    for all of them): the stop and the end of the budget land inside it."""
    large = Problem.from_message(generate(2_000, 64, seed=3))
    options = {"ants": 400}
    check_stop("aco", large, delay=0.5, grace=0.5, evaluations=1, options=options)
    check_wall_budget("aco", large, seconds=1.0, grace=0.5, evaluations=1, options=options)
