"""The hybrid solver: QAOA windows of a classical schedule, and its classical ablation."""

from __future__ import annotations

import numpy as np
import pytest
from builders import generated

from qsched import registry
from qsched.problem import ProblemError
from qsched.solver import Budget, SolveTracker
from qsched.solvers.hybrid import Window, choose_window, sub_problem
from qsched.solvers.qaoa import repaired_start


def run(problem, evaluations=400, seed=0, **options):
    return registry.solve(problem, "hybrid", Budget(evaluations=evaluations), seed, None, options)


@pytest.mark.parametrize("sub_solver", ["qaoa", "exhaustive"])
def test_hybrid_is_feasible_deterministic_and_windows_fit_the_qubit_budget(sub_solver):
    problem = generated(16, 4, 3)
    first, second = run(problem, sub_solver=sub_solver), run(problem, sub_solver=sub_solver)
    assert first.evaluation.feasible
    assert first.evaluation.assignment.tolist() == second.evaluation.assignment.tolist()
    assert first.facts["windows"] >= 1 and first.facts["max_window_qubits"] <= 16
    assert first.facts["sub_solver"] == sub_solver


def test_window_subproblem_keeps_the_fixed_work_and_capacity():
    problem = generated(16, 4, 3)
    start = repaired_start(SolveTracker(problem, Budget()))
    tasks, machines = choose_window(problem, start, np.random.default_rng(0), 8, 2)
    assert np.argmax(start.busy) in machines and np.all(np.isin(start.assignment[tasks], machines))
    window = Window(problem, start, tasks, machines)
    assert window.allocation.objective(window.start) == pytest.approx(
        1.0
    )  # the incumbent sets the scale
    fixed = np.setdiff1d(np.flatnonzero(np.isin(start.assignment, machines)), tasks)
    busy = start.busy[machines]
    own = np.array(
        [
            window.allocation.runtime[start.assignment[tasks] == m, k].sum()
            for k, m in enumerate(machines)
        ]
    )
    assert np.allclose(
        window.allocation.base_load + own, busy
    )  # fixed plus window work = the machines' busy time
    assert fixed.size == 0 or np.all(window.sub.capacity <= problem.capacity[machines])


def test_sub_problem_restricts_every_array():
    problem = generated(6, 3, 1)
    sub = sub_problem(problem, np.array([1, 4]), np.array([0, 2]), problem.capacity[[0, 2]])
    assert sub.num_tasks == 2 and sub.num_machines == 2
    assert np.array_equal(sub.etc, problem.etc[np.ix_([1, 4], [0, 2])]) and sub.power_cap == np.inf


def test_hybrid_refuses_an_unknown_sub_solver_and_oversized_windows():
    with pytest.raises(ProblemError) as error:
        run(generated(6, 3, 1), sub_solver="annealing", window_qubits=40)
    assert {v.field for v in error.value.violations} == {
        "options.sub_solver",
        "options.window_qubits",
    }


def test_milp_start_takes_its_share_of_the_wall_budget_and_needs_one():
    problem = generated(12, 3, 2)
    result = registry.solve(problem, "hybrid", Budget(wall_seconds=2.0), 0, None, {"start": "milp"})
    assert result.evaluation.feasible and result.trace[0].stage == "start"
    # Its share is half of 2 s, whatever importing the MILP took; HiGHS stops within its time
    # limit and the model of 12 tasks builds in milliseconds.
    assert result.stage_seconds["start"] < 1.5
    assert set(result.stage_seconds) == {"start", "polish", "window"}
    assert result.elapsed < 4.0  # the budget, a window and its candidates
    with pytest.raises(ProblemError, match="wall-time budget"):
        run(problem, start="milp")
