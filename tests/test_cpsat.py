"""CP-SAT on the MILP's model: optima against brute force, bounds, workers, budgets, stop."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from builders import exhaustive_optimum, generated
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qsched.baselines import cpsat
from qsched.formats import files, hcsp
from qsched.model import registry
from qsched.model.evaluate import evaluate
from qsched.model.problem import Problem, ProblemError
from qsched.model.solver import Budget, StopReason

DATA = Path(__file__).resolve().parent.parent / "datasets" / "hcsp" / "512x16"


def optimum(problem: Problem) -> float:
    return exhaustive_optimum(problem).objective


def close_to_optimum(result, best: float) -> bool:
    """Within the rounding the model reports (fact ``resolution``), both ways."""
    tolerance = 2 * result.facts["resolution"] + 1e-9
    return abs(result.evaluation.objective - best) <= tolerance * best


def without_cap(problem: Problem) -> Problem:
    return replace(problem, power_cap=math.inf)


def braun(tasks: int, machines: int, seed: int, consistency: str = "i") -> Problem:
    etc = hcsp.braun_etc(tasks, machines, seed, consistency=consistency)
    return Problem.from_message(hcsp.etc_problem(etc, f"braun-{tasks}x{machines}"))


CASES = [
    pytest.param(generated(5, 2, 1, uniform_load=True), id="5x2-cap-uniform-load"),
    pytest.param(without_cap(generated(6, 3, 2)), id="6x3-no-cap"),
    pytest.param(without_cap(generated(7, 2, 3)), id="7x2-no-cap"),
    pytest.param(
        replace(generated(5, 3, 5, uniform_load=True), idle_machines_on=True), id="5x3-idle-on"
    ),
    pytest.param(braun(8, 3, 1), id="braun-8x3"),
]


@pytest.mark.parametrize("problem", CASES)
def test_cpsat_proves_the_brute_force_optimum(problem):
    result = registry.solve(problem, "cpsat", Budget(wall_seconds=60))
    best = optimum(problem)
    assert result.facts["model"] == "exact" and result.facts["proven_optimal"]
    assert result.stop_reason is StopReason.COMPLETED
    assert result.evaluation.feasible and close_to_optimum(result, best)
    assert result.bound <= best * (1 + 1e-9) and result.bound <= result.evaluation.objective
    resolution = result.facts["resolution"]
    assert result.facts["incumbent"] == pytest.approx(
        result.evaluation.objective, rel=resolution + 1e-9
    )
    assert 0 <= resolution <= cpsat.RESOLUTION * 1.01


@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    tasks=st.integers(2, 6),
    machines=st.integers(1, 3),
    seed=st.integers(0, 10_000),
    cap=st.booleans(),
)
def test_on_generated_problems_cpsat_matches_brute_force(tasks, machines, seed, cap):
    """With mixed task loads the cap model is conservative: never below the optimum and no
    bound; otherwise the optimum and a bound below it."""
    problem = generated(tasks, machines, seed)
    problem = problem if cap else without_cap(problem)
    result = registry.solve(problem, "cpsat", Budget(wall_seconds=60))
    best = optimum(problem)
    assert result.evaluation.feasible
    if result.facts["model"] == "exact":
        assert close_to_optimum(result, best)
        assert result.bound <= min(best, result.evaluation.objective) * (1 + 1e-9)
    else:
        assert result.bound is None
        assert result.evaluation.objective >= best * (1 - 2 * result.facts["resolution"])


@settings(max_examples=10, deadline=None, derandomize=True)
@given(
    tasks=st.integers(2, 7),
    machines=st.integers(2, 3),
    seed=st.integers(0, 10_000),
    consistency=st.sampled_from(hcsp.CONSISTENCIES),
)
def test_on_braun_problems_cpsat_finds_the_least_makespan(tasks, machines, seed, consistency):
    problem = braun(tasks, machines, seed, consistency)
    result = registry.solve(problem, "cpsat", Budget(wall_seconds=60))
    assert result.facts["proven_optimal"] and close_to_optimum(result, optimum(problem))
    assert result.bound <= result.evaluation.makespan


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(
        st.floats(min_value=1e-3, max_value=1e7, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=20,
    )
)
def test_units_round_every_value_within_the_resolution(values):
    array = np.array(values)
    units = cpsat.scale(array)
    assert units.error <= cpsat.RESOLUTION
    rounded = units.nearest(array) * units.unit
    error = max(units.error * (1 + 1e-9), cpsat.EXACT)  # "exact": to float rounding
    assert np.all(np.abs(rounded - array) <= error * array)
    assert np.all(units.up(array) * units.unit >= array * (1 - 1e-11))
    assert np.all(units.down(array) * units.unit <= array * (1 + 1e-11))


def test_decimal_data_are_counted_exactly():
    assert cpsat.scale(np.array([1.25, 3.5, 0.0, np.nan])) == cpsat.Scale(0.01, 0.0)
    assert cpsat.scale(np.array([0.3, 0.9])) == cpsat.Scale(0.3, 0.0)


def test_two_workers_run_and_agree_with_one():
    problem = braun(8, 3, 2)
    one, two = (
        registry.solve(problem, "cpsat", Budget(wall_seconds=60), options={"workers": workers})
        for workers in (1, 2)
    )
    assert two.facts["workers"] == 2 and two.facts["proven_optimal"]
    assert two.evaluation.objective == pytest.approx(one.evaluation.objective, rel=1e-9)


@pytest.mark.parametrize("value", [0, -1, "x", 1.5, True])
def test_a_bad_worker_count_is_refused_by_field(value):
    problem = generated(3, 2, 1)
    with pytest.raises(ProblemError) as error:
        registry.get("cpsat").check(problem, {"workers": value})
    assert [v.field for v in error.value.violations] == ["options.workers"]


def test_a_model_too_large_is_refused_by_field(monkeypatch):
    problem = generated(6, 3, 1)  # 6 tasks x 3 machines x 3 levels
    assert cpsat.literal_count(problem) == 54
    monkeypatch.setattr(cpsat, "MAX_LITERALS", 53)
    with pytest.raises(ProblemError, match="cpsat takes at most 53") as error:
        registry.solve(problem, "cpsat")
    assert [v.field for v in error.value.violations] == ["problem.tasks"]


def test_stop_before_the_start_still_answers_with_a_full_schedule():
    problem = generated(40, 6, 1)
    stop = threading.Event()
    stop.set()
    result = registry.solve(problem, "cpsat", Budget(wall_seconds=60, stop=stop))
    assert result.stop_reason is StopReason.CANCELLED
    assert result.facts["status"] == "not started" and result.bound is None
    check = evaluate(problem, result.evaluation.assignment, result.evaluation.levels)
    assert check.objective == result.evaluation.objective


@pytest.fixture(scope="module")
def braun_512():
    return files.read_problem(DATA / "u_i_hihi.0")


def test_stop_during_the_search_returns_the_incumbent_promptly(braun_512):
    """The stop arrives while CP-SAT runs (about a second after Min-min), not on a new
    solution; CP-SAT ends within a fraction of a second with its incumbent."""
    stop = threading.Event()
    asked: list[float] = []

    def request_stop() -> None:
        asked.append(time.perf_counter())
        stop.set()

    def progress(event) -> None:
        if event.point.stage == "construct":
            threading.Timer(1.0, request_stop).start()

    started = time.perf_counter()
    result = registry.solve(braun_512, "cpsat", Budget(wall_seconds=60, stop=stop), 0, progress)
    assert asked and time.perf_counter() - asked[0] < 1.0
    assert result.stop_reason is StopReason.CANCELLED and result.elapsed < 10
    assert result.facts["status"] in ("FEASIBLE", "UNKNOWN")
    schedule = result.evaluation
    assert schedule.assignment.shape == (512,) and schedule.feasible
    assert evaluate(braun_512, schedule.assignment).makespan == schedule.makespan
    assert started < asked[0]


def test_wall_budget_gives_a_bound_below_the_best_known_and_progress_per_solution(braun_512):
    best_known = hcsp.best_known_makespans(DATA)["u_i_hihi.0"]
    events = []
    result = registry.solve(braun_512, "cpsat", Budget(wall_seconds=3.0), 0, events.append)
    assert result.elapsed < 4.5
    assert result.bound <= best_known <= result.evaluation.makespan
    assert result.facts["resolution"] == 0.0  # ETCs with six decimals: counted exactly
    assert [e.point.stage for e in events][:2] == ["first", "construct"]
    improvements = [e.point.objective for e in events]
    assert improvements == sorted(improvements, reverse=True)
    assert events[-1].point.objective == result.evaluation.objective


def test_same_seed_and_evaluation_budget_give_the_same_schedule():
    problem = generated(40, 6, 1)
    runs = [registry.solve(problem, "cpsat", Budget(evaluations=5_000), seed=3) for _ in range(2)]
    assert np.array_equal(runs[0].evaluation.assignment, runs[1].evaluation.assignment)
    assert np.array_equal(runs[0].evaluation.levels, runs[1].evaluation.levels)
    assert [p.objective for p in runs[0].trace] == [p.objective for p in runs[1].trace]
    assert runs[0].facts["deterministic_time"] <= 5_000 * cpsat.DETERMINISTIC_SECONDS_PER_EVALUATION
