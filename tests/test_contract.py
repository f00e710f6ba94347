"""The solver contract kit (`qsched.testing.contract`): every registered solver keeps the
contract, and solvers broken on purpose fail it, each in the check it breaks."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import time
from collections.abc import Callable

import pytest

from qsched.model import registry
from qsched.model.problem import Problem
from qsched.model.registry import SolverKind
from qsched.model.solver import Budget, ProgressCallback, Result
from qsched.search.list_scheduling import list_schedule
from qsched.search.tracker import SolveTracker
from qsched.testing import contract

#: Iterations cut so that the quantum solvers answer the contract problems in moments (their
#: defaults are sized for real problems); every solver runs on its default backend.
OPTIONS = {
    "qaoa": {"optimizer_evaluations": 5, "vqe_iterations": 5},
    "qaoa-reference": {"maxiter": 5},
}
CHECKS: dict[str, Callable[..., None]] = {
    "schedule": contract.check_schedule,
    "determinism": contract.check_determinism,
    "evaluation-budget": contract.check_evaluation_budget,
    "one-evaluation": functools.partial(contract.check_evaluation_budget, evaluations=1),
    "feasibility": contract.check_feasibility,
    "wall-budget": contract.check_wall_budget,
    "stop": contract.check_stop,
}


def _cases() -> list[object]:
    return [
        pytest.param(solver, check, id=f"{solver}-{check}")
        for solver, check in itertools.product(registry.names(), CHECKS)
    ]


@functools.cache
def _problem(solver: str) -> Problem:
    return contract.contract_problem(solver, OPTIONS.get(solver))


@pytest.mark.parametrize("solver, check", _cases())
def test_every_registered_solver_keeps_the_contract(solver: str, check: str) -> None:
    CHECKS[check](solver, _problem(solver), options=OPTIONS.get(solver))


def test_workers_side_by_side_share_the_evaluation_budget():
    contract.check_evaluation_budget("tabu-search", options={"workers": 2})


def test_a_quantum_solver_gets_a_problem_within_its_qubits_and_the_others_a_larger_one():
    quantum = contract.contract_problem("qaoa")
    classical = contract.contract_problem("min-min")
    assert quantum.num_tasks * quantum.num_machines <= contract.QUANTUM_CELLS
    assert (classical.num_tasks, classical.num_machines) == contract.SIZES[0]


def _answer_differently_each_time() -> Callable[..., Result]:
    calls = itertools.count(1)

    def coin_flip(
        problem: Problem, budget: Budget, seed: int, progress: ProgressCallback | None = None
    ) -> Result:
        """Every task on one machine, a different one at each call, whatever the seed."""
        tracker = SolveTracker(problem, budget, progress)
        tracker.evaluate([next(calls) % problem.num_machines] * problem.num_tasks)
        return tracker.result("coin-flip", completed=True)

    return coin_flip


def overspend(
    problem: Problem, budget: Budget, seed: int, progress: ProgressCallback | None = None
) -> Result:
    """MCT, counted as one evaluation more than the budget allows."""
    tracker = SolveTracker(problem, budget, progress)
    tracker.evaluate(list_schedule(problem, "mct"), spent=(budget.evaluations or 1) + 1)
    return tracker.result("overspend", completed=True)


def flatter(
    problem: Problem, budget: Budget, seed: int, progress: ProgressCallback | None = None
) -> Result:
    """MCT, reporting 10 % less energy than the evaluator gives it."""
    tracker = SolveTracker(problem, budget, progress)
    tracker.evaluate(list_schedule(problem, "mct"))
    result = tracker.result("flatter", completed=True)
    flattered = dataclasses.replace(result.evaluation, energy=0.9 * result.evaluation.energy)
    return dataclasses.replace(result, evaluation=flattered)


def deaf(
    problem: Problem, budget: Budget, seed: int, progress: ProgressCallback | None = None
) -> Result:
    """MCT after a second's work that never looks at the budget or the stop signal."""
    tracker = SolveTracker(problem, budget, progress)
    time.sleep(1.0)
    tracker.evaluate(list_schedule(problem, "mct"))
    return tracker.result("deaf", completed=True)


@pytest.fixture
def register(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, Callable[..., Result]], None]:
    """Register a solver for this test only."""
    monkeypatch.setattr(registry, "_SOLVERS", dict(registry._SOLVERS))

    def add(name: str, function: Callable[..., Result]) -> None:
        registry.register(name, kind=SolverKind.HEURISTIC, finite=True)(function)

    return add


@pytest.mark.parametrize(
    "name, function, check",
    [
        ("coin-flip", _answer_differently_each_time(), "check_determinism"),
        ("overspend", overspend, "check_evaluation_budget"),
        ("flatter", flatter, "check_schedule"),
    ],
)
def test_the_kit_fails_a_broken_solver_in_the_check_it_breaks(register, name, function, check):
    register(name, function)
    with pytest.raises(AssertionError, match=rf"^{check}: solver '{name}' "):
        contract.check_solver(name)


def test_the_kit_fails_a_solver_that_ignores_its_stop_signal(register):
    register("deaf", deaf)
    stopped_late = "^check_stop: solver 'deaf' took .* to answer a stop set before it started"
    with pytest.raises(AssertionError, match=stopped_late):
        contract.check_stop("deaf", grace=0.5)


def test_the_kit_passes_a_solver_given_as_its_spec():
    contract.check_solver(registry.get("mct"))
