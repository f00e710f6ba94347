"""The `qaoa` solver: quality, determinism, backends, refusals, service (`qaoa-reference`:
test_reference)."""

from __future__ import annotations

import pytest
from builders import exhaustive_optimum, generated
from service_helpers import assert_invalid, rpc_error, solve

from qsched.formats.generate import generate
from qsched.model import registry
from qsched.model.problem import ProblemError
from qsched.model.solver import Budget
from qsched.solvers.qaoa import encode


def run(problem, solver="qaoa", seed=0, progress=None, **options):
    return registry.solve(problem, solver, Budget(), seed, progress, options)


@pytest.mark.parametrize("shape", [(4, 2, 5), (3, 3, 2), (5, 2, 7)])
def test_qaoa_answers_between_its_start_and_the_exhaustive_optimum(shape):
    """What any run gives, wherever COBYLA takes the angles: a feasible schedule no worse than
    the repaired Min-min start it decodes around, and nothing better than exhaustive search.
    (How close it gets is measured by benchmarks/qaoa_solvers.py, not asserted here.)"""
    problem = generated(*shape)
    result = run(problem)
    start = encode(problem)[2]
    assert start.feasible and result.evaluation.feasible
    assert (
        exhaustive_optimum(problem).objective * (1 - 1e-9)
        <= result.evaluation.objective
        <= start.objective
    )
    assert result.facts["qubits"] > problem.num_tasks * problem.num_machines - 1


def test_qaoa_is_deterministic_for_a_seed():
    problem = generated(4, 2, 2)
    first, second = run(problem, seed=3), run(problem, seed=3)
    assert first.evaluation.assignment.tolist() == second.evaluation.assignment.tolist()
    assert first.evaluation.levels.tolist() == second.evaluation.levels.tolist()
    assert first.evaluations == second.evaluations


def test_qaoa_reports_progress_per_stage_and_facts():
    events = []
    result = run(generated(4, 2, 5), progress=events.append)
    stages = {event.point.stage for event in events}
    assert {"construct", "qaoa"} <= stages
    for fact in (
        "qubits",
        "depth",
        "penalty",
        "shots",
        "expectation",
        "feasible_sample_share",
        "vqe_blocks",
    ):
        assert fact in result.facts
    assert set(result.stage_seconds) == {"qaoa", "decode", "polish", "vqe"}
    assert all(seconds >= 0 for seconds in result.stage_seconds.values())
    facts = result.facts
    assert 1 <= facts["distinct_assignments"] <= facts["distinct_samples"] <= facts["shots"]
    assert (
        result.evaluation.feasible and result.evaluation.objective <= facts["start_objective"]
    )  # a feasible start here


def test_x_mixer_also_gives_feasible_schedules():
    result = run(generated(4, 2, 5), mixer="x", vqe=False)
    assert result.evaluation.feasible and result.facts["mixer"] == "x"


def test_aer_backend_samples_the_transpiled_circuit():
    result = run(generated(3, 2, 1), backend="aer", backend_iterations=2, vqe=False)
    assert result.evaluation.feasible
    facts = result.facts
    assert (
        facts["backend"] == "aer"
        and facts["two_qubit_gates"] > 0
        and facts["circuit_depth"] > 0
        and facts["shots"] == 1024
    )


def test_noisy_aer_spreads_samples_off_the_one_hot_rows():
    result = run(generated(3, 2, 1), backend="aer-noisy", backend_iterations=1, vqe=False)
    assert result.evaluation.feasible and result.facts["backend"] == "aer-noisy"
    assert 0 < result.facts["feasible_sample_share"] < 1


def test_fake_device_runs_through_the_runtime_sampler_with_device_noise():
    problem = generated(3, 2, 1)
    result = run(problem, backend="fake_torino", backend_iterations=0, vqe=False, shots=256)
    assert result.evaluation.feasible
    assert result.facts["physical_qubits"] == 133  # laid out on the 133-qubit Heron device
    assert result.facts["two_qubit_gates"] > 0


def test_problems_beyond_the_qubit_budget_are_refused_by_field():
    with pytest.raises(ProblemError) as error:
        run(generated(8, 4, 1))
    assert error.value.violations[0].field == "problem.tasks"
    assert "qubits" in error.value.violations[0].description
    with pytest.raises(ProblemError, match="takes at most 6"):
        run(generated(4, 2, 5), max_qubits=6)


@pytest.mark.parametrize(
    "backend", ["nope", "fake_nowhere", "ibm:", "ibm:ibm_torino"]
)  # no IBM credentials here
def test_unknown_backends_are_refused_by_field(backend):
    with pytest.raises(ProblemError) as error:
        run(generated(3, 2, 1), backend=backend)
    assert error.value.violations[0].field == "backend"


@pytest.mark.parametrize(
    "option",
    [
        {"depth": 0},
        {"shots": 0},
        {"candidates": 0},
        {"vqe_iterations": 0},
        {"max_qubits": -1},
        {"mixer": "xz"},
    ],
)
def test_out_of_range_options_are_refused_by_field(option):
    with pytest.raises(ProblemError) as error:
        run(generated(3, 2, 1), **option)
    assert [v.field for v in error.value.violations] == [f"options.{next(iter(option))}"]


def test_max_qubits_lowers_the_budget_but_never_raises_it():
    with pytest.raises(ProblemError, match="takes at most 22"):
        run(generated(6, 3, 5), max_qubits=40)


def test_service_runs_qaoa_on_a_named_backend(stub):
    response = solve(
        stub,
        generate(3, 2, 1),
        "qaoa",
        backend="aer",
        options={"vqe": False, "backend_iterations": 0},
    )
    assert response.backend == "aer" and response.schedule.metrics.feasible
    assert response.facts["two_qubit_gates"] > 0


def test_service_refuses_a_bad_backend_and_an_oversized_problem(stub):
    assert_invalid(rpc_error(solve, stub, generate(3, 2, 1), "qaoa", backend="nope"), "backend")
    no_account = rpc_error(solve, stub, generate(3, 2, 1), "qaoa", backend="ibm:ibm_torino")
    assert_invalid(no_account, "backend")  # no IBM credentials here
    assert_invalid(rpc_error(solve, stub, generate(3, 2, 1), "min-min", backend="aer"), "backend")
    assert_invalid(rpc_error(solve, stub, generate(8, 4, 1), "qaoa"), "problem.tasks")
