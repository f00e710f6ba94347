"""The exact MILP against brute-force enumeration, and its bound against known optima."""

import threading
from pathlib import Path

import numpy as np
import pytest

from qsched.baselines import milp
from qsched.baselines.milp import power_cap_is_exact
from qsched.formats import files, hcsp
from qsched.formats.generate import generate
from qsched.model import registry
from qsched.model.evaluate import evaluate
from qsched.model.problem import Problem, ProblemError
from qsched.model.solver import Budget, StopReason
from qsched.testing.contract import unconstrained

DATA = Path(__file__).resolve().parent.parent / "datasets" / "hcsp" / "512x16"


def brute_force(problem: Problem):
    """The best schedule by the evaluator's key over every assignment and level choice."""
    return registry.solve(problem, "exhaustive").evaluation


def test_exhaustive_search_refuses_more_than_a_million_schedules():
    with pytest.raises(ProblemError, match="exhaustive search is for tiny problems"):
        registry.solve(Problem.from_message(generate(12, 4, seed=1)), "exhaustive")


def test_exhaustive_search_stops_at_its_budget():
    result = registry.solve(
        Problem.from_message(generate(6, 3, seed=2)), "exhaustive", Budget(evaluations=50)
    )
    assert result.evaluations == 50 and result.stop_reason.value == "budget"


def uniform_load(message):
    for task in message.tasks:
        task.load = 1.0
    return message


def without_cap(message):
    message.ClearField("power_cap_watts")
    return message


CASES = [
    pytest.param(uniform_load(generate(5, 2, seed=1)), id="5x2-cap-uniform-load"),
    pytest.param(uniform_load(generate(6, 2, seed=4)), id="6x2-cap-uniform-load"),
    pytest.param(without_cap(generate(6, 3, seed=2)), id="6x3-no-cap"),
    pytest.param(without_cap(generate(7, 2, seed=3)), id="7x2-no-cap"),
    pytest.param(uniform_load(generate(5, 3, seed=5, name="idle-on")), id="5x3-idle-on"),
]


@pytest.mark.parametrize("message", CASES)
def test_milp_equals_brute_force(message):
    if message.name == "idle-on":
        message.idle_machines_on = True
    problem = Problem.from_message(message)
    result = registry.solve(problem, "milp", Budget(wall_seconds=60))
    assert result.facts["model"] == "exact"
    optimum = brute_force(problem)
    assert result.facts["proven_optimal"]
    assert result.evaluation.feasible == optimum.feasible
    assert result.evaluation.objective == pytest.approx(optimum.objective, rel=1e-6)
    assert result.bound <= optimum.objective * (1 + 1e-6)
    assert result.facts["incumbent"] == pytest.approx(result.evaluation.objective, rel=1e-9)


def test_mixed_loads_make_the_cap_conservative_never_infeasible():
    problem = Problem.from_message(generate(5, 2, seed=1))
    assert not power_cap_is_exact(problem)
    result = registry.solve(problem, "milp", Budget(wall_seconds=60))
    assert result.facts["model"] == "conservative power cap"
    assert result.bound is None
    assert result.evaluation.feasible
    assert result.evaluation.objective >= brute_force(problem).objective * (1 - 1e-9)


def test_bound_on_a_braun_instance_never_exceeds_the_best_known():
    problem = files.read_problem(DATA / "u_c_lolo.0")
    best = min(
        evaluate(problem, hcsp.read_solution(s.path)).makespan
        for s in hcsp.solution_files(DATA)
        if s.instance == "u_c_lolo.0"
    )
    # A 10% gap ends the solve once it has the root bound, however busy the machine
    # (about 1 s idle).
    result = registry.solve(
        problem, "milp", Budget(wall_seconds=120), options={"relative_gap": 0.1}
    )
    assert result.bound <= best <= result.evaluation.makespan


def test_same_problem_same_optimal_schedule():
    problem = Problem.from_message(without_cap(generate(6, 3, seed=2)))
    runs = [registry.solve(problem, "milp", Budget(wall_seconds=60)) for _ in range(2)]
    assert np.array_equal(runs[0].evaluation.assignment, runs[1].evaluation.assignment)
    assert np.array_equal(runs[0].evaluation.levels, runs[1].evaluation.levels)


def test_exhaustive_search_proves_its_optimum_as_the_bound():
    problem = Problem.from_message(uniform_load(generate(5, 2, seed=1)))
    result = registry.solve(problem, "exhaustive")
    assert result.bound == result.evaluation.objective
    assert result.facts["schedules"] == 2**5 * 9 == result.evaluations


def test_stop_interrupts_highs_and_the_incumbent_is_returned(monkeypatch):
    """Stop set as HiGHS starts on the Pyomo model (DVFS energy, every schedule feasible):
    HiGHS is interrupted from its callback and the solve answers with a full schedule,
    cancelled."""
    problem = unconstrained(Problem.from_message(generate(120, 8, seed=2)))
    stop = threading.Event()
    solve = milp.StoppableHighs._solve

    def stop_then_solve(self):
        stop.set()
        return solve(self)

    monkeypatch.setattr(milp.StoppableHighs, "_solve", stop_then_solve)
    result = registry.solve(problem, "milp", Budget(wall_seconds=600, stop=stop))
    assert result.facts["status"] == "interrupted"
    assert result.stop_reason is StopReason.CANCELLED
    assert result.evaluation.feasible and result.evaluation.assignment.shape == (120,)


@pytest.mark.parametrize("stop_at", ["first", "construct"])
def test_stop_before_highs_starts_answers_with_the_start(stop_at):
    """Stop set while Min-min runs: the model is not built or not handed over."""
    problem = Problem.from_message(generate(40, 6, seed=1))
    stop = threading.Event()

    def progress(event):
        if event.point.stage == stop_at:
            stop.set()

    result = registry.solve(problem, "milp", Budget(wall_seconds=600, stop=stop), 0, progress)
    assert result.facts["status"] == "not started"
    assert result.stop_reason is StopReason.CANCELLED
    assert result.evaluation.assignment.shape == (40,)
